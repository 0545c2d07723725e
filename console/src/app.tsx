// The Finance app: sign-in, then the tabs of the signed-in person's role. A partner's finance staff get the help
// articles' tabs (a viewer is shown the same screens with no write offered: the API refuses writes to them anyway);
// a customer organization's own staff (org-admin, org-viewer) get their own: Wallet, Invoices, Top up by card (an
// org-admin's), Automatic top-up and History, and the partner's routes show them a plain "not available" instead.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { SESSION_ENDED, api, call, useLoad } from "./api";
import { Loading, Refusal } from "./components";
import { type ConsoleConfig, loadConfig } from "./config";
import { forgetOrganizations } from "./orgs";
import { Link, type Location, match, navigate, useLocation } from "./router";
import { AutomaticTopUp } from "./screens/customer/automatic";
import { CustomerHistory } from "./screens/customer/history";
import type { CustomerScreenProps } from "./screens/customer/props";
import { CustomerTopUp } from "./screens/customer/topup";
import { CustomerWallet } from "./screens/customer/wallet";
import { InvoiceDetail } from "./screens/invoices/detail";
import { Invoices } from "./screens/invoices/list";
import { NewInvoice } from "./screens/invoices/new";
import { OrganizationDetail } from "./screens/organizations/detail";
import { Organizations } from "./screens/organizations/list";
import { NewPayment } from "./screens/payments/new";
import { PaymentDetail } from "./screens/payments/detail";
import { Payments } from "./screens/payments/list";
import { AgedReceivables } from "./screens/reports/aged";
import { SignIn } from "./screens/signin";
import { type Session, isCustomer, isOrgAdmin, loadSession, oidcCallback, roleOf, signOut } from "./session";

export interface ScreenProps {
  session: Session;
  params: Record<string, string>;
  query: URLSearchParams;
}

type Screen = (props: ScreenProps) => preact.JSX.Element;
type CustomerScreen = (props: CustomerScreenProps) => preact.JSX.Element;

/** A screen whose code is loaded when it is first opened (a chunk of its own: the first screen loads less). */
function lazyScreen(load: () => Promise<Screen>): Screen {
  let loaded: Screen | null = null;
  return function LazyScreen(props: ScreenProps) {
    const [Loaded, setLoaded] = useState<Screen | null>(() => loaded);
    const [failed, setFailed] = useState<string | null>(null);
    useEffect(() => {
      if (Loaded) return;
      load().then(
        (screen) => {
          loaded = screen;
          setLoaded(() => screen);
        },
        () => setFailed("This page could not be loaded: check the connection and reload."),
      );
    }, [Loaded]);
    if (failed) return <Refusal error={failed} />;
    return Loaded ? <Loaded {...props} /> : <Loading what="the page" />;
  };
}

const PartnerSettings = lazyScreen(() => import("./screens/partner/settings").then((m) => m.PartnerSettings));
const DeliveryLog = lazyScreen(() => import("./screens/partner/deliveries").then((m) => m.DeliveryLog));

// The partner's routes, most specific first; the tab each belongs to.
const ROUTES: [string, Screen, string][] = [
  ["/payments/new", NewPayment, "payments"],
  ["/payments/:paymentId", PaymentDetail, "payments"],
  ["/payments", Payments, "payments"],
  ["/organizations/:orgId", OrganizationDetail, "organizations"],
  ["/organizations", Organizations, "organizations"],
  ["/invoices/new", NewInvoice, "invoices"],
  ["/invoices/:invoiceId", InvoiceDetail, "invoices"],
  ["/invoices", Invoices, "invoices"],
  ["/reports", AgedReceivables, "reports"],
  ["/partner/deliveries", DeliveryLog, "partner"],
  ["/partner", PartnerSettings, "partner"],
];

const TABS: [string, string][] = [
  ["payments", "Payments"],
  ["organizations", "Organization Management"],
  ["invoices", "Invoices"],
  ["reports", "Reports"],
  ["partner", "Partner settings"],
];

// A customer's routes, most specific first: the tab each belongs to, and whether only an org-admin has it. A route
// with no screen is one of the partner's that a customer's path also matches (New Invoice).
const CUSTOMER_ROUTES: [string, CustomerScreen | null, string, boolean][] = [
  ["/wallet", CustomerWallet, "wallet", false],
  ["/invoices/new", null, "invoices", false],
  ["/invoices/:invoiceId", InvoiceDetail, "invoices", false],
  ["/invoices", Invoices, "invoices", false],
  ["/top-up", CustomerTopUp, "top-up", true],
  ["/automatic-top-up", AutomaticTopUp, "automatic-top-up", false],
  ["/history", CustomerHistory, "history", false],
];

const CUSTOMER_TABS: [string, string, boolean][] = [
  ["wallet", "Wallet", false],
  ["invoices", "Invoices", false],
  ["top-up", "Top up by card", true],
  ["automatic-top-up", "Automatic top-up", false],
  ["history", "History", false],
];

/** Where a role starts: a customer's staff on their Wallet, a partner's on Payments. */
function home(session: Session): string {
  return isCustomer(session) ? "/wallet" : "/payments";
}

export function App() {
  const location = useLocation();
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(loadSession);
  const [ended, setEnded] = useState(false);

  useEffect(() => {
    loadConfig().then(setConfig, (error: Error) => setProblem(error.message));
    const onEnded = () => {
      setSession(null);
      setEnded(true);
    };
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  }, []);

  useEffect(() => {
    if (config && location.path === "/callback" && !session) {
      oidcCallback(config).then(
        (signedIn) => {
          setSession(signedIn);
          navigate(home(signedIn), { replace: true });
        },
        (error: Error) => setProblem(error.message),
      );
    }
  }, [config, location.path, session]);

  if (problem) return <Refusal error={problem} />;
  if (!config) return <Loading what="the Finance app" />;
  if (!session) {
    return (
      <SignIn
        config={config}
        ended={ended}
        onSignedIn={(signedIn) => {
          forgetOrganizations(); // names read for whoever signed in before, in this tab
          setSession(signedIn);
          setEnded(false);
          if (location.path === "/" || location.path === "/callback") navigate(home(signedIn), { replace: true });
        }}
      />
    );
  }
  if (isCustomer(session)) {
    return <CustomerView session={session} config={config} location={location} onSignOut={() => setSession(null)} />;
  }

  const found = ROUTES.map(([pattern, screen, tab]) => [match(pattern, location.path), screen, tab] as const).find(
    ([params]) => params !== null,
  );
  if (!found) {
    if (location.path === "/" || location.path === "/callback") navigate("/payments", { replace: true });
  }
  const [params, Screen, tab] = found ?? [null, null, ""];

  return (
    <Layout
      tab={tab}
      tabs={TABS}
      who={`${session.sub} · ${session.partnerId} · ${roleOf(session)}`}
      config={config}
      onSignOut={() => setSession(null)}
    >
      {Screen && params ? (
        <Screen session={session} params={params} query={location.query} />
      ) : (
        <p>There is no such page. Choose a tab above.</p>
      )}
    </Layout>
  );
}

/** A customer's own view: their organization (read once: its name for the header, its currency for the screens)
 * and their tabs; a partner's route, or an org-admin's to an org-viewer, is "not available to your role" (never
 * asked of the API: no 403 to show). */
function CustomerView(props: { session: Session; config: ConsoleConfig; location: Location; onSignOut: () => void }) {
  const { session, location } = props;
  const orgId = session.orgId ?? "";
  const org = useLoad(
    () =>
      orgId
        ? call(api.GET("/organizations/{org_id}", { params: { path: { org_id: orgId } } }))
        : Promise.reject(new Error("Your sign-in names no organization: ask your provider to add it to your account.")),
    [orgId],
  );
  const admin = isOrgAdmin(session);
  const tabs = CUSTOMER_TABS.filter(([, , adminOnly]) => admin || !adminOnly).map(([tab, name]) => [tab, name] as [string, string]);

  const found = CUSTOMER_ROUTES.map(
    ([pattern, screen, tab, adminOnly]) => [match(pattern, location.path), screen, tab, adminOnly] as const,
  ).find(([params]) => params !== null);
  const partners = ROUTES.some(([pattern]) => match(pattern, location.path) !== null);
  if (!found && !partners && (location.path === "/" || location.path === "/callback")) {
    navigate(home(session), { replace: true });
  }
  const [params, Screen, tab, adminOnly] = found ?? [null, null, "", false];
  const allowed = Screen !== null && params !== null && (admin || !adminOnly);

  let content: preact.JSX.Element;
  if (allowed && Screen && params) {
    content = org.data ? (
      <Screen session={session} params={params} query={location.query} org={org.data} />
    ) : org.error ? (
      <Refusal error={org.error} />
    ) : (
      <Loading what="your organization" />
    );
  } else if (found || partners) {
    content = (
      <section aria-labelledby="not-available-title">
        <h1 id="not-available-title">Not available</h1>
        <p>This page is not available to your role ({roleOf(session)}).</p>
        <p>
          <Link href="/wallet">Go to your Wallet</Link>
        </p>
      </section>
    );
  } else {
    content = <p>There is no such page. Choose a tab above.</p>;
  }

  return (
    <Layout
      tab={allowed ? tab : ""}
      tabs={tabs}
      who={`${session.sub} · ${org.data?.name ?? orgId} · ${roleOf(session)}`}
      config={props.config}
      onSignOut={props.onSignOut}
    >
      {content}
    </Layout>
  );
}

function Layout(props: {
  tab: string;
  tabs: [string, string][];
  who: string;
  config: ConsoleConfig;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  return (
    <>
      <a class="skip" href="#main">
        Skip to main content
      </a>
      <header class="top">
        <span class="brand">Finance</span>
        <nav aria-label="Finance app">
          <ul class="tabs">
            {props.tabs.map(([tab, name]) => (
              <li key={tab}>
                <Link href={`/${tab}`} aria-current={props.tab === tab ? "page" : undefined}>
                  {name}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>{props.who}</span>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              props.onSignOut();
              void signOut(props.config);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}
