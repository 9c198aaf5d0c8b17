import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { VerifiedAccessToken } from '../../src/destination/index.js';

/** What each tool needs: the MCP server's scopes are its tools' capabilities. */
export const TOOL_SCOPES = { list_notes: 'notes.read', add_note: 'notes.write' } as const;
export const NOTE_SCOPES = ['notes.read', 'notes.write'] as const;

/** A note longer than this is refused: the example keeps everything in memory. */
export const MAX_NOTE_CHARS = 500;
/** Notes kept per account, likewise. */
export const MAX_NOTES_PER_ACCOUNT = 100;

/** Notes per account. An account is (the broker that named the user, `sub`): a `sub` is unique only within its issuer. */
export class NoteBook {
  readonly #notes = new Map<string, string[]>();

  static account(brokerIssuer: string, sub: string): string {
    return JSON.stringify([brokerIssuer, sub]);
  }

  list(account: string): readonly string[] {
    return this.#notes.get(account) ?? [];
  }

  /** Returns the new note's number, or undefined when the account is full. */
  add(account: string, text: string): number | undefined {
    const notes = this.#notes.get(account) ?? [];
    if (notes.length >= MAX_NOTES_PER_ACCOUNT) return undefined;
    notes.push(text);
    this.#notes.set(account, notes);
    return notes.length;
  }
}

const failure = (message: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text: message }] });

/**
 * One McpServer per request (the transport is stateless), bound to the caller's verified access
 * token: every tool acts for that token's user and checks its own scope.
 */
export function notesServer(notes: NoteBook, token: VerifiedAccessToken): McpServer {
  const server = new McpServer({ name: 'xaa-notes', version: '1.0.0' });
  // The access token's `subject_issuer` (set by the reference AS) is the broker that named `sub`.
  const account = NoteBook.account(String(token.claims.subject_issuer ?? token.iss), token.sub);
  const lacks = (tool: keyof typeof TOOL_SCOPES) =>
    token.scopes.includes(TOOL_SCOPES[tool]) ? undefined : failure(`insufficient_scope: ${tool} needs ${TOOL_SCOPES[tool]}`);

  server.registerTool('list_notes', { description: "Lists the signed-in user's notes.", inputSchema: z.object({}) }, async () => {
    return lacks('list_notes') ?? { content: [{ type: 'text', text: JSON.stringify({ sub: token.sub, notes: notes.list(account) }) }] };
  });

  server.registerTool(
    'add_note',
    { description: 'Adds a note for the signed-in user.', inputSchema: z.object({ text: z.string().min(1).max(MAX_NOTE_CHARS) }) },
    async ({ text }) => {
      const refused = lacks('add_note');
      if (refused) return refused;
      const number = notes.add(account, text);
      return number === undefined ? failure(`The notebook is full (${MAX_NOTES_PER_ACCOUNT} notes)`) : { content: [{ type: 'text', text: `Added note ${number}.` }] };
    },
  );
  return server;
}
