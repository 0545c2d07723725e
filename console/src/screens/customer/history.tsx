// A customer's History tab: what happened to their organization, its wallet and its settings, and who did it.
import { OrganizationHistory } from "../organizations/activity";
import type { CustomerScreenProps } from "./props";

export function CustomerHistory({ org }: CustomerScreenProps) {
  return <OrganizationHistory orgId={org.id} currency={org.currency} version={0} title="History" />;
}
