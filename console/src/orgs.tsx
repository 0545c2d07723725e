// Organizations by name: the pickers of "Customer name" and "Assigned Organization", and the names shown
// in lists (the API's payments carry the organization's id).
import { useEffect, useId, useState } from "preact/hooks";
import { type Organization, api, call } from "./api";

let cache: Promise<Map<string, Organization>> | undefined;

/** Every organization of the partner (pages of 100), read once per page load; `forget()` after a create. */
export function organizations(): Promise<Map<string, Organization>> {
  cache ??= (async () => {
    const all = new Map<string, Organization>();
    let cursor: string | undefined;
    do {
      const page = await call(api.GET("/organizations", { params: { query: { limit: 100, cursor } } }));
      page.items.forEach((org) => all.set(org.id, org));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  })();
  cache.catch(() => (cache = undefined));
  return cache;
}

export function forgetOrganizations(): void {
  cache = undefined;
}

export function useOrganizations(): Map<string, Organization> {
  const [orgs, setOrgs] = useState<Map<string, Organization>>(new Map());
  useEffect(() => {
    organizations().then(setOrgs, () => undefined);
  }, []);
  return orgs;
}

/** A name field with the partner's organizations as suggestions; `onPick` gets the one whose name it is. */
export function OrganizationPicker(props: {
  label: string;
  value: string;
  onInput: (name: string) => void;
  error?: string | undefined;
  currency?: string | undefined;
  required?: boolean;
}) {
  const orgs = useOrganizations();
  const id = useId();
  const names = [...orgs.values()].filter((o) => !props.currency || o.currency === props.currency);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        list={`${id}-names`}
        value={props.value}
        required={props.required}
        autoComplete="off"
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      <datalist id={`${id}-names`}>
        {names.map((org) => (
          <option key={org.id} value={org.name}>
            {org.currency}
          </option>
        ))}
      </datalist>
      {props.error && (
        <small id={`${id}-error`} class="field-error">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** The organization a typed name names (exactly, ignoring case), if any. */
export function byName(orgs: Map<string, Organization>, name: string): Organization | undefined {
  const wanted = name.trim().toLowerCase();
  return [...orgs.values()].find((org) => org.name.toLowerCase() === wanted);
}
