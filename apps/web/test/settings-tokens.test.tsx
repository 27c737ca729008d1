// Settings → API tokens: listed with their dates, made with a label and an expiry (shown once), revoked.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AppError, userContract, type ApiTokenInfo } from "@soundmesh/protocol";
import { AccountSettings } from "../src/pages/settings-account";
import { SessionWire } from "./session-wire";

/** A wire that keeps the user's tokens as the user service does. */
function tokenWire(initial: ApiTokenInfo[]) {
  const tokens = [...initial];
  const wire = new SessionWire()
    .answer(userContract, "listApiTokens", () => tokens)
    .answer(userContract, "createApiToken", ({ label, expiresInDays }) => {
      if (tokens.some((t) => t.label === label))
        throw new AppError("CONFLICT", `A token named ${label} exists`);
      const info = {
        id: `k${tokens.length + 1}`,
        label,
        createdAt: Date.UTC(2026, 11, 4),
        lastUsedAt: null,
        expiresAt: expiresInDays ? Date.UTC(2026, 11, 4) + expiresInDays * 86_400_000 : null,
      };
      tokens.push(info);
      return { ...info, token: `smt_${"x".repeat(40)}` };
    })
    .answer(userContract, "revokeApiToken", ({ id }) => {
      tokens.splice(
        tokens.findIndex((t) => t.id === id),
        1,
      );
      return { ok: true as const };
    });
  return { wire, tokens };
}

const tokenRows = () =>
  within(screen.getByRole("table", { name: "API tokens" }))
    .getAllByRole("row")
    .slice(1)
    .map((row) => [...row.querySelectorAll("td")].slice(0, 4).map((cell) => cell.textContent));

describe("settings: API tokens", () => {
  it("lists each token with when it was used and when it ends", async () => {
    const { wire } = tokenWire([
      { id: "k1", label: "scrobbler", createdAt: Date.UTC(2026, 0, 2), lastUsedAt: null, expiresAt: null },
      {
        id: "k2",
        label: "backup",
        createdAt: Date.UTC(2026, 0, 2),
        lastUsedAt: Date.UTC(2026, 1, 3),
        expiresAt: Date.UTC(2026, 3, 2),
      },
    ]);
    render(<AccountSettings connection={wire.client()} />);
    await screen.findByRole("table", { name: "API tokens" });
    const day = (ms: number) => new Date(ms).toLocaleDateString();
    expect(tokenRows()).toEqual([
      ["scrobbler", day(Date.UTC(2026, 0, 2)), "never", "never"],
      ["backup", day(Date.UTC(2026, 0, 2)), day(Date.UTC(2026, 1, 3)), day(Date.UTC(2026, 3, 2))],
    ]);
    // Each can be kept through a password change.
    expect(screen.getAllByRole("checkbox").length).toBe(2);
  });

  it("makes a token, shows it once, lists it; and revokes it", async () => {
    const { wire, tokens } = tokenWire([]);
    render(<AccountSettings connection={wire.client()} />);
    await waitFor(() => expect(wire.paramsOf(userContract, "listApiTokens")).toHaveLength(1));
    expect(screen.queryByRole("table", { name: "API tokens" })).toBeNull();
    fireEvent.change(screen.getByRole("textbox", { name: "Token label" }), { target: { value: "phone" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Token expiry" }), { target: { value: "30" } });
    fireEvent.submit(screen.getByRole("button", { name: "Create token" }).closest("form")!);
    expect((await screen.findByTestId("new-token")).textContent).toBe(`smt_${"x".repeat(40)}`);
    expect(wire.paramsOf(userContract, "createApiToken")).toEqual([{ label: "phone", expiresInDays: 30 }]);
    await screen.findByRole("table", { name: "API tokens" });
    expect(tokenRows().map((row) => row[0])).toEqual(["phone"]);
    fireEvent.click(screen.getByRole("button", { name: "Revoke phone" }));
    await screen.findByText("Revoked phone.");
    await waitFor(() => expect(screen.queryByRole("table", { name: "API tokens" })).toBeNull());
    expect(tokens).toEqual([]);
  });

  it("shows the server's refusal and keeps the list as it was", async () => {
    const { wire } = tokenWire([
      { id: "k1", label: "phone", createdAt: Date.UTC(2026, 0, 2), lastUsedAt: null, expiresAt: null },
    ]);
    render(<AccountSettings connection={wire.client()} />);
    await screen.findByRole("table", { name: "API tokens" });
    fireEvent.change(screen.getByRole("textbox", { name: "Token label" }), { target: { value: "phone" } });
    fireEvent.submit(screen.getByRole("button", { name: "Create token" }).closest("form")!);
    await screen.findByText("A token named phone exists");
    expect(screen.queryByTestId("new-token")).toBeNull();
    expect(tokenRows().map((row) => row[0])).toEqual(["phone"]);
  });
});
