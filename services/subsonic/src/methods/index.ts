// Every Subsonic method this server answers, by name; and those only administrators may call.
import type { MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { annotationMethods } from "./annotation";
import { browsingMethods } from "./browsing";
import { listMethods } from "./lists";
import { keepsakeMethods } from "./keepsakes";
import { lyricsMethods } from "./lyrics";
import { mediaMethods } from "./media";
import { playlistMethods } from "./playlists";
import { queueMethods } from "./queue";
import { scanningMethods } from "./scanning";
import { searchMethods } from "./search";
import { similarMethods } from "./similar";
import { systemMethods } from "./system";
import { transcodingMethods } from "./transcoding";
import { userMethods } from "./users";

export const allMethods: MethodTable = {
  ...systemMethods,
  ...browsingMethods,
  ...similarMethods,
  ...listMethods,
  ...searchMethods,
  ...annotationMethods,
  ...playlistMethods,
  ...queueMethods,
  ...userMethods,
  ...scanningMethods,
  ...mediaMethods,
  ...lyricsMethods,
  ...keepsakeMethods,
  ...transcodingMethods,
  jukeboxControl: () => Promise.reject(new SubsonicError(0, "Jukebox mode is not implemented")),
};

export const adminOnlyMethods = new Set<string>([
  "getUsers",
  "createUser",
  "updateUser",
  "deleteUser",
  "startScan",
  "createInternetRadioStation",
  "updateInternetRadioStation",
  "deleteInternetRadioStation",
]);
