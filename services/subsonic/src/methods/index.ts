// Every Subsonic method this server answers, by name; and those only administrators may call.
import type { MethodTable } from "../context";
import { annotationMethods } from "./annotation";
import { browsingMethods } from "./browsing";
import { listMethods } from "./lists";
import { playlistMethods } from "./playlists";
import { queueMethods } from "./queue";
import { scanningMethods } from "./scanning";
import { searchMethods } from "./search";
import { systemMethods } from "./system";
import { userMethods } from "./users";

export const allMethods: MethodTable = {
  ...systemMethods,
  ...browsingMethods,
  ...listMethods,
  ...searchMethods,
  ...annotationMethods,
  ...playlistMethods,
  ...queueMethods,
  ...userMethods,
  ...scanningMethods,
};

export const adminOnlyMethods = new Set<string>([
  "getUsers",
  "createUser",
  "updateUser",
  "deleteUser",
  "startScan",
]);
