// What each of a customer's tabs is given: the app's screen props and their own organization (read once, for its
// name and currency).
import type { Organization } from "../../api";
import type { ScreenProps } from "../../app";

export interface CustomerScreenProps extends ScreenProps {
  org: Organization;
}
