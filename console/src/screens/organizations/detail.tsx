// An organization (View <name>): its name and currency, the Wallet with its ledger and withdrawals, the Payment
// settings of the help article (the Stripe fields locked as it says), the online top-ups by card (and, for a
// writer, a new one with Stripe.js), the automatic top-up attempts and the History. Every section reads again
// after any write of the screen (a withdrawal moves the ledger, a top-up changes the settings).
import { useCallback, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { api, call, useLoad } from "../../api";
import { Loading, Refusal } from "../../components";
import { Link } from "../../router";
import { canWrite } from "../../session";
import { AutoTopUps, OrganizationHistory } from "./activity";
import { PaymentSettings } from "./settings";
import { OnlineTopUps } from "./topup";
import { Ledger, Wallet, Withdrawals } from "./wallet";

export function OrganizationDetail({ session, params }: ScreenProps) {
  const id = params["orgId"] ?? "";
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  const org = useLoad(() => call(api.GET("/organizations/{org_id}", { params: { path: { org_id: id } } })), [id]);
  const writer = canWrite(session);
  const back = (
    <p>
      <Link href="/organizations">← Organizations</Link>
    </p>
  );
  if (org.error) {
    return (
      <section>
        {back}
        <Refusal error={org.error} />
      </section>
    );
  }
  if (!org.data) return <Loading what="the organization" />;
  const o = org.data;
  const section = { orgId: o.id, currency: o.currency, version };
  return (
    <section aria-labelledby="org-title">
      {back}
      <h1 id="org-title">{o.name}</h1>
      <dl class="facts">
        <dt>Currency</dt>
        <dd>{o.currency}</dd>
        <dt>Created</dt>
        <dd>{o.created_at}</dd>
        <dt>Id</dt>
        <dd>{o.id}</dd>
      </dl>
      <Wallet {...section} />
      <Ledger {...section} />
      <Withdrawals {...section} writer={writer} onChanged={changed} />
      <PaymentSettings {...section} writer={writer} onChanged={changed} />
      <OnlineTopUps {...section} writer={writer} onChanged={changed} />
      <AutoTopUps {...section} />
      <OrganizationHistory {...section} />
    </section>
  );
}
