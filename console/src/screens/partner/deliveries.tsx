// The delivery log of the partner's notices (`/partners/{partner_id}/webhook-deliveries`): filtered by endpoint and
// status, kept in the URL with the page's cursor (a reload, a bookmark and Back show the same page); a failed
// delivery (its three days of tries ended) is sent again by a finance-admin's Retry.
import { useEffect, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, api, call, useLoad } from "../../api";
import { Loading, Notice, Pager, Refusal, Select } from "../../components";
import { Link, navigate, withQuery } from "../../router";
import { canWrite } from "../../session";
import { DELIVERY_STATUSES, isDeliveryStatus, lastTry } from "./labels";
import { noticeWords } from "./webhooks";

const PATH = "/partner/deliveries";

export function DeliveryLog({ session, query }: ScreenProps) {
  const partnerId = session.partnerId;
  const writer = canWrite(session);
  const endpointId = query.get("endpoint_id") || undefined;
  const rawStatus = query.get("status");
  const status = isDeliveryStatus(rawStatus) ? rawStatus : undefined;
  const cursor = query.get("cursor") || undefined;
  const [version, setVersion] = useState(0);
  const [said, setSaid] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<{ id: string; error: ApiError } | null>(null);
  useEffect(() => {
    setSaid(null);
    setRefusal(null);
  }, [query.toString()]);

  const endpoints = useLoad(
    () =>
      call(
        api.GET("/partners/{partner_id}/webhook-endpoints", {
          params: { path: { partner_id: partnerId }, query: { limit: 100 } },
        }),
      ),
    [partnerId],
  );
  const page = useLoad(
    () =>
      call(
        api.GET("/partners/{partner_id}/webhook-deliveries", {
          params: { path: { partner_id: partnerId }, query: { endpoint_id: endpointId, status, cursor, limit: 50 } },
        }),
      ),
    [partnerId, query.toString(), version],
  );
  const urls = new Map((endpoints.data?.items ?? []).map((e) => [e.id, e.url]));

  async function retry(id: string) {
    setSaid(null);
    setRefusal(null);
    try {
      const sent = await call(
        api.POST("/partners/{partner_id}/webhook-deliveries/{delivery_id}/retry", {
          params: { path: { partner_id: partnerId, delivery_id: id } },
        }),
      );
      setSaid(`Sent again: the delivery is ${sent.status}, with three more days of tries.`);
      setVersion((v) => v + 1);
    } catch (error) {
      setRefusal({ id, error: error as ApiError });
    }
  }

  return (
    <section aria-labelledby="deliveries-title">
      <p>
        <Link href="/partner">← Partner settings</Link>
      </p>
      <h1 id="deliveries-title">Delivery log</h1>
      <p class="hint">
        Each notice to each endpoint: a 2xx answer within 10 seconds delivers it; anything else is tried again (30 s, then
        doubling up to an hour apart) for three days, then it is failed{writer ? " and may be sent again" : ""}.
      </p>
      <Filters
        key={query.toString()}
        endpointId={endpointId}
        status={status}
        endpoints={(endpoints.data?.items ?? []).map((e) => [e.id, e.url] as [string, string])}
      />
      <Refusal error={endpoints.error} />
      <Refusal error={page.error} />
      {said && <Notice>{said}</Notice>}
      {!page.data && !page.error && <Loading what="the deliveries" />}
      {page.data && (
        <table>
          <caption>Deliveries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Notice</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">Tries</th>
              <th scope="col">Last try</th>
              <th scope="col">Next try</th>
              {writer && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {page.data.items.length === 0 && (
              <tr>
                <td colSpan={writer ? 8 : 7}>No delivery{endpointId || status ? " matches these filters" : " yet"}.</td>
              </tr>
            )}
            {page.data.items.map((d) => (
              <tr key={d.id}>
                <td>{d.created_at}</td>
                <td>
                  {noticeWords(d.type)}
                  <br />
                  <span class="hint">
                    <code>{d.type}</code> · event <code>{d.event_id}</code>
                  </span>
                </td>
                <td class="url">{urls.get(d.endpoint_id) ?? d.endpoint_id}</td>
                <td>{DELIVERY_STATUSES.find(([s]) => s === d.status)?.[1] ?? d.status}</td>
                <td class="num">{d.attempts}</td>
                <td>{lastTry(d.last_status_code, d.last_error)}</td>
                <td>{d.next_attempt_at ?? "—"}</td>
                {writer && (
                  <td>
                    {d.status === "failed" && (
                      <button type="button" class="secondary" onClick={() => void retry(d.id)} aria-label={`Retry delivery ${d.id}`}>
                        Retry
                      </button>
                    )}
                    {refusal?.id === d.id && <Refusal error={refusal.error} />}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager
        next={page.data?.next_cursor}
        cursor={cursor}
        onPage={(next) => navigate(withQuery(PATH, { endpoint_id: endpointId, status, cursor: next }))}
        label="Pages of deliveries"
      />
    </section>
  );
}

function Filters(props: { endpointId: string | undefined; status: string | undefined; endpoints: [string, string][] }) {
  const [endpointId, setEndpointId] = useState(props.endpointId ?? "");
  const [status, setStatus] = useState(props.status ?? "");
  const known = props.endpoints.some(([id]) => id === endpointId);
  const endpointOptions: [string, string][] = [
    ["", "All endpoints"],
    ...props.endpoints,
    ...(endpointId && !known ? ([[endpointId, endpointId]] as [string, string][]) : []),
  ];
  return (
    <form
      role="search"
      aria-label="Filter deliveries"
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(withQuery(PATH, { endpoint_id: endpointId || undefined, status: status || undefined }));
      }}
    >
      <Select label="Endpoint" value={endpointId} onChange={(e) => setEndpointId(e.currentTarget.value)} options={endpointOptions} />
      <Select
        label="Status"
        value={status}
        onChange={(e) => setStatus(e.currentTarget.value)}
        options={[["", "All statuses"], ...DELIVERY_STATUSES]}
      />
      <div class="actions">
        <button type="submit">Show</button>
        {(props.endpointId || props.status) && (
          <Link class="button secondary" href={PATH}>
            Reset
          </Link>
        )}
      </div>
    </form>
  );
}
