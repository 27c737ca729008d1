// Users: getUser, getUsers, and for administrators createUser, updateUser, deleteUser (disables: accounts are
// never deleted, their playlists and history stay) and changePassword.
import { userContract, type UserRecord } from "@soundmesh/protocol";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import type { Body } from "../response";

function userOf(user: UserRecord): Body {
  const isAdmin = user.role === "admin";
  return {
    username: user.name,
    email: "",
    scrobblingEnabled: true,
    adminRole: isAdmin,
    settingsRole: true,
    downloadRole: true,
    uploadRole: false,
    playlistRole: true,
    coverArtRole: isAdmin,
    commentRole: false,
    podcastRole: false,
    streamRole: !user.disabled,
    jukeboxRole: false,
    shareRole: false,
    videoConversionRole: false,
    folder: [1],
  };
}

function passwordParam(context: MethodContext): string {
  const raw = context.params.string("password", 2_100);
  if (!raw.startsWith("enc:")) return raw;
  const hex = raw.slice(4);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex))
    throw new SubsonicError(0, "Invalid parameter password: enc: is not hex");
  return Buffer.from(hex, "hex").toString("utf8");
}

function isSelf(context: MethodContext, name: string): boolean {
  return name.trim().toLowerCase() === context.identity.user.name.toLowerCase();
}

/** Sets both passwords: the login password and the Subsonic password the apps use. */
async function setBothPasswords(context: MethodContext, name: string, password: string) {
  await context.call(userContract, "setPassword", { name, password });
  await context.call(userContract, "setSubsonicPassword", { name, password });
}

export const userMethods: MethodTable = {
  async getUser(context) {
    const name = context.params.string("username", 64);
    if (isSelf(context, name)) return { user: userOf(context.identity.user) };
    if (context.identity.user.role !== "admin") throw new SubsonicError(50);
    const user = (await context.call(userContract, "listUsers", {})).find(
      (u) => u.name.toLowerCase() === name.toLowerCase(),
    );
    if (!user) throw new SubsonicError(70, "No such user");
    return { user: userOf(user) };
  },

  async getUsers(context) {
    return { users: { user: (await context.call(userContract, "listUsers", {})).map(userOf) } };
  },

  async createUser(context) {
    const name = context.params.string("username", 64);
    const password = passwordParam(context);
    const isAdmin = context.params.optionalBool("adminRole") ?? false;
    await context.call(userContract, "createUser", { name, password, role: isAdmin ? "admin" : "user" });
    await context.call(userContract, "setSubsonicPassword", { name, password });
    return {};
  },

  async updateUser(context) {
    const name = context.params.string("username", 64);
    const users = await context.call(userContract, "listUsers", {});
    if (!users.some((u) => u.name.toLowerCase() === name.toLowerCase()))
      throw new SubsonicError(70, "No such user");
    if (context.params.has("password")) await setBothPasswords(context, name, passwordParam(context));
    const isAdmin = context.params.optionalBool("adminRole");
    if (isAdmin !== undefined)
      await context.call(userContract, "setRole", { name, role: isAdmin ? "admin" : "user" });
    return {};
  },

  async deleteUser(context) {
    const name = context.params.string("username", 64);
    if (isSelf(context, name)) throw new SubsonicError(50, "You cannot delete yourself");
    await context.call(userContract, "setDisabled", { name, disabled: true });
    return {};
  },

  async changePassword(context) {
    const name = context.params.string("username", 64);
    const password = passwordParam(context);
    if (context.identity.user.role === "admin") {
      await setBothPasswords(context, name, password);
      return {};
    }
    // A user changes their own Subsonic password here; the login password needs the old one (Settings).
    if (!isSelf(context, name)) throw new SubsonicError(50);
    await context.call(userContract, "setMySubsonicPassword", { password });
    return {};
  },
};
