// The workbench's tools, installed in this order once the map is built (see workbench.js).
// Each module exports `install(app)`; add a tool with one import and one entry here.

import * as print from "./print.js";

export const PLUGINS = [print];
