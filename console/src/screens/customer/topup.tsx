// A customer's Top up by card tab (an org-admin's only): the card top-up of Organization Management, with Stripe.js,
// for their own organization, and their online top-ups below it (read again after each attempt).
import { useCallback, useState } from "preact/hooks";
import { CardTopUp, OnlineTopUps } from "../organizations/topup";
import type { CustomerScreenProps } from "./props";

export function CustomerTopUp({ org }: CustomerScreenProps) {
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  return (
    <section aria-labelledby="top-up-title">
      <h1 id="top-up-title">Top up by card</h1>
      <p>
        Add credit to {org.name}'s wallet with a card. The Trigger Amount, Limit Threshold and auto-trigger chosen here
        become your automatic top-up, charged to the same card.
      </p>
      <CardTopUp orgId={org.id} currency={org.currency} onChanged={changed} level={2} />
      <OnlineTopUps
        orgId={org.id}
        currency={org.currency}
        version={version}
        writer={false}
        onChanged={changed}
        partnerLinks={false}
      />
    </section>
  );
}
