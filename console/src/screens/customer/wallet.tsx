// A customer's Wallet tab: their organization's balance, what is held for card refunds, what is available, and
// the ledger, paged (the partner's Organization Management sections, read-only).
import { Ledger, Wallet } from "../organizations/wallet";
import type { CustomerScreenProps } from "./props";

export function CustomerWallet({ org }: CustomerScreenProps) {
  const section = { orgId: org.id, currency: org.currency, version: 0 };
  return (
    <section aria-labelledby="org-title">
      <h1 id="org-title">{org.name}</h1>
      <Wallet {...section} />
      <Ledger {...section} />
    </section>
  );
}
