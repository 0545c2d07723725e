// The report's CSV as the API writes it (Accept: text/csv), through the console's one door to the API (the bearer
// token, 401 -> sign-in): the file saved is the API's, byte for byte, under the name its Content-Disposition gives.
import { ApiError, api, errorOf } from "../../api";
import type { paths } from "../../generated/api";

export type ReportQuery = NonNullable<paths["/reports/aged-receivables"]["get"]["parameters"]["query"]>;

/** `attachment; filename="aged-receivables-2026-11-30.csv"` -> that name (a plain name only: no path). */
export function fileNameOf(disposition: string | null, fallback: string): string {
  const quoted = /filename="([^"]+)"/i.exec(disposition ?? "")?.[1];
  const bare = /filename=([^;\s]+)/i.exec(disposition ?? "")?.[1];
  const name = (quoted ?? bare ?? "").trim();
  return name && /^[\w.-]+$/.test(name) ? name : fallback;
}

/** The report `query` selects, as the API's CSV file; refusals as ApiError with the API's words. */
export async function reportCsv(query: ReportQuery): Promise<{ name: string; file: Blob }> {
  let answer;
  try {
    answer = await api.GET("/reports/aged-receivables", {
      params: { query, header: { Accept: "text/csv" } },
      parseAs: "blob",
    });
  } catch {
    throw new ApiError(0, "network", "The API could not be reached: check the connection and try again.", []);
  }
  if (answer.error !== undefined || !answer.response.ok || !answer.data) {
    throw errorOf(answer.response.status, answer.error);
  }
  const fallback = `aged-receivables-${query.as_of ?? "today"}.csv`;
  return { name: fileNameOf(answer.response.headers.get("Content-Disposition"), fallback), file: answer.data };
}

/** Offers `file` as a download named `name` (a link clicked, then let go). */
export function save(name: string, file: Blob): void {
  const url = URL.createObjectURL(file);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
