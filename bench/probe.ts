/**
 * Preloaded into a target only where /proc is absent (bench/process.ts): answers the bench's
 * IPC questions with this process's CPU time (seconds) and RSS (bytes).
 */
if (process.send) {
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!({ cpu: (user + system) / 1e6, rss: process.memoryUsage().rss });
  });
  // The channel must not keep the target alive on its own.
  process.channel?.unref();
}
