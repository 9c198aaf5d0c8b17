/** Seconds since the epoch. The broker reads time only through one of these, injected at build. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
