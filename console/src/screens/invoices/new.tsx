import type { ScreenProps } from "../../app";

// Being built (issue 27): this screen's tab is listed so the app's routes are complete.
export function NewInvoice(_props: ScreenProps) {
  return <h1>NewInvoice</h1>;
}
