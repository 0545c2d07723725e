// The partner's webhook endpoints (`/partners/{partner_id}/webhook-endpoints`): where its own systems (finance tools,
// CRM, chat) receive signed notices. Listed without secrets; a finance-admin adds one (URL and the notice types it
// receives) and is shown its signing secret once, in the answer that created it (never again: not on a reload, not
// in the list), with a copy button; and deletes one after a confirmation.
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { type ApiError, type Schemas, api, call } from "../../api";
import { Confirm, Field, Notice, Pager, Refusal } from "../../components";
import { Link, withQuery } from "../../router";
import { usePaged } from "../organizations/paged";
import { NOTICE_TYPES, type NoticeType } from "./labels";

type Endpoint = Schemas["WebhookEndpointOut"];

export function noticeWords(type: string): string {
  return NOTICE_TYPES.find(([t]) => t === type)?.[1] ?? type;
}

export function WebhookEndpoints({ partnerId, writer }: { partnerId: string; writer: boolean }) {
  const [version, setVersion] = useState(0);
  const [created, setCreated] = useState<Endpoint | null>(null); // holds the secret: this screen's state only
  const [said, setSaid] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const page = usePaged(
    (cursor) =>
      call(
        api.GET("/partners/{partner_id}/webhook-endpoints", {
          params: { path: { partner_id: partnerId }, query: { cursor, limit: 100 } },
        }),
      ),
    [partnerId, version],
  );

  async function remove(endpoint: Endpoint) {
    setSaid(null);
    setRefusal(null);
    try {
      await call(
        api.DELETE("/partners/{partner_id}/webhook-endpoints/{endpoint_id}", {
          params: { path: { partner_id: partnerId, endpoint_id: endpoint.id } },
        }),
      );
      if (created?.id === endpoint.id) setCreated(null);
      setSaid(`Deleted the endpoint ${endpoint.url}: it receives no more notices (its pending deliveries fail).`);
      setVersion((v) => v + 1);
    } catch (error) {
      setRefusal(error as ApiError);
      throw error;
    }
  }

  return (
    <section aria-labelledby="endpoints-title">
      <h2 id="endpoints-title">Webhook endpoints</h2>
      <p class="hint">
        Your systems receive a signed notice (a POST with the header Payments-Signature) for each type they subscribe
        to. <Link href="/partner/deliveries">Delivery log</Link>
      </p>
      <Refusal error={page.error} />
      <table>
        <caption>Webhook endpoints</caption>
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Notices</th>
            <th scope="col">Created</th>
            <th scope="col">Deliveries</th>
            {writer && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={writer ? 5 : 4}>No endpoint yet: no notice is sent.</td>
            </tr>
          )}
          {page.data?.items.map((e) => (
            <tr key={e.id}>
              <th scope="row" class="url">
                {e.url}
              </th>
              <td>
                <ul class="changes">
                  {e.events.map((type) => (
                    <li key={type}>{noticeWords(type)}</li>
                  ))}
                </ul>
              </td>
              <td>{e.created_at}</td>
              <td>
                <Link href={withQuery("/partner/deliveries", { endpoint_id: e.id })} aria-label={`Deliveries to ${e.url}`}>
                  Deliveries
                </Link>
              </td>
              {writer && (
                <td>
                  <Confirm
                    label="Delete"
                    name={`Delete ${e.url}`}
                    question={`Delete the endpoint ${e.url}? It receives no more notices.`}
                    confirm="Yes, delete it"
                    onConfirm={() => remove(e)}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of endpoints" />
      <Refusal error={refusal} />
      {said && <Notice>{said}</Notice>}
      {created?.secret && <SecretOnce endpoint={created} secret={created.secret} onDone={() => setCreated(null)} />}
      {writer && (
        <EndpointForm
          partnerId={partnerId}
          onCreated={(endpoint) => {
            setSaid(null);
            setCreated(endpoint);
            setVersion((v) => v + 1);
          }}
        />
      )}
    </section>
  );
}

/** The signing secret, shown once: a warning, the secret as text, a copy button; gone when dismissed or left. */
function SecretOnce({ endpoint, secret, onDone }: { endpoint: Endpoint; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const title = useId();
  const box = useRef<HTMLDivElement>(null);
  const text = useRef<HTMLElement>(null);
  useEffect(() => box.current?.focus(), []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("Copied to the clipboard.");
    } catch {
      // no clipboard (permission, an insecure page): select it for the person to copy
      const range = document.createRange();
      if (text.current) range.selectNodeContents(text.current);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
      setCopied("The browser did not allow copying: the secret is selected, copy it with Ctrl+C (⌘C).");
    }
  }

  return (
    <div class="warning" role="region" aria-labelledby={title} tabIndex={-1} ref={box}>
      <p id={title} class="warning-title">
        Signing secret of {endpoint.url}: shown only now
      </p>
      <p>
        Copy it into the system that receives the notices now: it checks each notice's Payments-Signature with it. It
        is never shown again (not after a reload, not in the list); if it is lost, delete this endpoint and add it again.
      </p>
      <p>
        <code class="secret" ref={text}>
          {secret}
        </code>
      </p>
      <div class="actions">
        <button type="button" onClick={() => void copy()}>
          Copy secret
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          I have stored it
        </button>
      </div>
      {copied && <p role="status">{copied}</p>}
    </div>
  );
}

function EndpointForm(props: { partnerId: string; onCreated: (endpoint: Endpoint) => void }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<Set<NoticeType>>(new Set());
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const legend = useId();

  async function create(event: Event) {
    event.preventDefault();
    setRefusal(null);
    const problems = {
      url: url.trim() ? undefined : "Enter the URL that receives the notices.",
      events: events.size ? undefined : "Choose at least one notice.",
    };
    setErrors(problems);
    if (problems.url || problems.events) return;
    setBusy(true);
    try {
      const chosen = NOTICE_TYPES.map(([type]) => type).filter((type) => events.has(type));
      const created = await call(
        api.POST("/partners/{partner_id}/webhook-endpoints", {
          params: { path: { partner_id: props.partnerId } },
          body: { url: url.trim(), events: chosen },
        }),
      );
      setUrl("");
      setEvents(new Set());
      setErrors({});
      props.onCreated(created);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      setErrors({
        url: refused.about("url") ?? (refused.code === "webhook_url_not_allowed" ? refused.message : undefined),
        events: refused.about("events"),
      });
    } finally {
      setBusy(false);
    }
  }

  function toggle(type: NoticeType, on: boolean) {
    setEvents((current) => {
      const next = new Set(current);
      if (on) next.add(type);
      else next.delete(type);
      return next;
    });
    setRefusal(null);
  }

  return (
    <form class="form" aria-label="New webhook endpoint" onSubmit={create} noValidate>
      <h3>New webhook endpoint</h3>
      <Field
        label="URL"
        type="url"
        value={url}
        onInput={(e) => {
          setUrl(e.currentTarget.value);
          setRefusal(null);
        }}
        hint="https, on a public address (the local stack also takes http://127.0.0.1:<port>/...)"
        error={errors["url"]}
        required
      />
      <fieldset aria-describedby={errors["events"] ? `${legend}-error` : undefined}>
        <legend id={legend}>Notices</legend>
        <div class="checks">
          {NOTICE_TYPES.map(([type, words]) => (
            <label key={type}>
              <input type="checkbox" checked={events.has(type)} onChange={(e) => toggle(type, e.currentTarget.checked)} />{" "}
              {words} <code>{type}</code>
            </label>
          ))}
        </div>
        {errors["events"] && (
          <small id={`${legend}-error`} class="field-error">
            {errors["events"]}
          </small>
        )}
      </fieldset>
      <Refusal error={refusal} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Add endpoint
        </button>
      </div>
    </form>
  );
}
