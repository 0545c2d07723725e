// + New Invoice: Organization (its currency is the invoice's), Type, Amount, Issued date, Due date and an
// optional Number (the API gives the next INV-000001, ... when it is left empty). One Idempotency-Key per form.
import { useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, api, call, newKey } from "../../api";
import { Field, Refusal, Select } from "../../components";
import type { Schemas } from "../../api";
import { parseMoney } from "../../money";
import { OrganizationPicker, byName, useOrganizations } from "../../orgs";
import { Link, navigate } from "../../router";
import { canWrite } from "../../session";
import { TYPES } from "./labels";

const today = () => new Date().toISOString().slice(0, 10);

// The API's field -> the form's field its refusal is shown beside.
const FIELDS: Record<string, string> = {
  org_id: "organization",
  currency: "amount",
  type: "type",
  amount: "amount",
  issued_date: "issued_date",
  due_date: "due_date",
  number: "number",
};

export function NewInvoice({ session }: ScreenProps) {
  const orgs = useOrganizations();
  const [orgName, setOrgName] = useState("");
  const [type, setType] = useState("standard");
  const [amount, setAmount] = useState("");
  const [issued, setIssued] = useState(today());
  const [due, setDue] = useState("");
  const [number, setNumber] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [key] = useState(newKey); // one key for this form: a retried submit issues the invoice once
  const [busy, setBusy] = useState(false);
  const org = byName(orgs, orgName);

  if (!canWrite(session)) return <p>Your role reads invoices only: issuing one needs finance-admin.</p>;

  async function submit(event: Event) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!org) {
      found["organization"] = orgName.trim()
        ? "No organization has this name: pick one from the list."
        : "Choose the organization the invoice is for.";
    }
    const parsed = org ? parseMoney(amount, org.currency) : null;
    if (parsed && !parsed.ok) found["amount"] = parsed.message;
    if (!issued) found["issued_date"] = "Enter the date the invoice is issued.";
    if (due && issued && due < issued) found["due_date"] = "The due date cannot be before the issued date.";
    setErrors(found);
    setRefusal(null);
    if (Object.keys(found).length || !org || !parsed?.ok) return;
    setBusy(true);
    try {
      const invoice = await call(
        api.POST("/invoices", {
          params: { header: { "Idempotency-Key": key } },
          body: {
            org_id: org.id,
            type: type as "standard",
            amount: parsed.minor,
            currency: org.currency as Schemas["InvoiceCreate"]["currency"],
            issued_date: issued,
            due_date: due || null,
            number: number.trim() || null,
          },
        }),
      );
      navigate(`/invoices/${invoice.id}`);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      const byField: Record<string, string> = {};
      for (const [field, shown] of Object.entries(FIELDS)) {
        const message = refused.about?.(field);
        if (message && !byField[shown]) byField[shown] = message;
      }
      if (refused.code === "invoice_number_taken") byField["number"] = refused.message;
      if (refused.code === "organization_not_found") byField["organization"] = refused.message;
      if (refused.code === "currency_mismatch") byField["amount"] = refused.message;
      setErrors(byField);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="new-invoice-title">
      <p>
        <Link href="/invoices">← Invoices</Link>
      </p>
      <h1 id="new-invoice-title">New Invoice</h1>
      <form onSubmit={submit} class="form" aria-label="New Invoice" noValidate>
        <OrganizationPicker
          label="Organization"
          value={orgName}
          onInput={setOrgName}
          error={errors["organization"]}
          required
        />
        <Select
          label="Type"
          value={type}
          onChange={(e) => setType(e.currentTarget.value)}
          options={TYPES}
          error={errors["type"]}
        />
        <Field
          label="Amount"
          inputMode="decimal"
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
          hint={org ? `In ${org.currency}, the organization's currency` : "In the organization's currency"}
          error={errors["amount"]}
          required
        />
        <Field
          label="Issued date"
          type="date"
          value={issued}
          onInput={(e) => setIssued(e.currentTarget.value)}
          error={errors["issued_date"]}
          required
        />
        <Field
          label="Due date"
          type="date"
          value={due}
          onInput={(e) => setDue(e.currentTarget.value)}
          hint="Optional; not before the issued date"
          error={errors["due_date"]}
        />
        <Field
          label="Number"
          value={number}
          onInput={(e) => setNumber(e.currentTarget.value)}
          hint="Optional: left empty, the next number is given (INV-000001, …)"
          error={errors["number"]}
        />
        <Refusal error={refusal} />
        <div class="actions sticky">
          <button type="submit" disabled={busy}>
            Save invoice
          </button>
          <Link href="/invoices" class="button secondary">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
