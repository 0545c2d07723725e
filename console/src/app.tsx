// The Finance app: sign-in, then the help articles' tabs. Each route names the screen it shows; a viewer is
// shown the same screens with no write offered (the API refuses writes to them anyway).
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { SESSION_ENDED } from "./api";
import { Loading, Refusal } from "./components";
import { type ConsoleConfig, loadConfig } from "./config";
import { Link, match, navigate, useLocation } from "./router";
import { InvoiceDetail } from "./screens/invoices/detail";
import { Invoices } from "./screens/invoices/list";
import { NewInvoice } from "./screens/invoices/new";
import { OrganizationDetail } from "./screens/organizations/detail";
import { Organizations } from "./screens/organizations/list";
import { NewPayment } from "./screens/payments/new";
import { PaymentDetail } from "./screens/payments/detail";
import { Payments } from "./screens/payments/list";
import { SignIn } from "./screens/signin";
import { type Session, loadSession, oidcCallback, roleOf, signOut } from "./session";

export interface ScreenProps {
  session: Session;
  params: Record<string, string>;
  query: URLSearchParams;
}

type Screen = (props: ScreenProps) => preact.JSX.Element;

// The routes, most specific first; the tab each belongs to.
const ROUTES: [string, Screen, string][] = [
  ["/payments/new", NewPayment, "payments"],
  ["/payments/:paymentId", PaymentDetail, "payments"],
  ["/payments", Payments, "payments"],
  ["/organizations/:orgId", OrganizationDetail, "organizations"],
  ["/organizations", Organizations, "organizations"],
  ["/invoices/new", NewInvoice, "invoices"],
  ["/invoices/:invoiceId", InvoiceDetail, "invoices"],
  ["/invoices", Invoices, "invoices"],
];

const TABS: [string, string][] = [
  ["payments", "Payments"],
  ["organizations", "Organization Management"],
  ["invoices", "Invoices"],
];

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
          navigate("/payments", { replace: true });
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
          setSession(signedIn);
          setEnded(false);
          if (location.path === "/" || location.path === "/callback") navigate("/payments", { replace: true });
        }}
      />
    );
  }

  const found = ROUTES.map(([pattern, screen, tab]) => [match(pattern, location.path), screen, tab] as const).find(
    ([params]) => params !== null,
  );
  if (!found) {
    if (location.path === "/" || location.path === "/callback") navigate("/payments", { replace: true });
  }
  const [params, Screen, tab] = found ?? [null, null, ""];

  return (
    <Layout session={session} tab={tab} config={config} onSignOut={() => setSession(null)}>
      {Screen && params ? (
        <Screen session={session} params={params} query={location.query} />
      ) : (
        <p>There is no such page. Choose a tab above.</p>
      )}
    </Layout>
  );
}

function Layout(props: {
  session: Session;
  tab: string;
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
            {TABS.map(([tab, name]) => (
              <li key={tab}>
                <Link href={`/${tab}`} aria-current={props.tab === tab ? "page" : undefined}>
                  {name}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {props.session.sub} · {props.session.partnerId} · {roleOf(props.session)}
          </span>
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
