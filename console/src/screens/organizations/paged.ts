// A list of the organization read page by page with the API's cursors; the cursor is the section's own
// state (several lists share one screen, so it is not kept in the URL).
import { useState } from "preact/hooks";
import { type Loaded, useLoad } from "../../api";

/** What every section of an organization's screen is given. */
export interface SectionProps {
  orgId: string;
  currency: string;
  version: number; // bumped after every write of the screen: each section reads again
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Paged<T> extends Loaded<Page<T>> {
  cursor: string | undefined;
  setCursor: (cursor?: string) => void;
}

/** Reads `load(cursor)` when `deps` or the cursor change. */
export function usePaged<T>(load: (cursor: string | undefined) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [cursor, setCursor] = useState<string | undefined>();
  const loaded = useLoad(() => load(cursor), [...deps, cursor]);
  return { ...loaded, cursor, setCursor: (c?: string) => setCursor(c) };
}
