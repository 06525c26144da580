// The workbench's tools, installed in this order once the map is built (see workbench.js).
// Each module exports `install(app)`; add a tool with one import and one entry here.

import * as building from "./building.js";
import * as search from "./search.js";

export const PLUGINS = [search, building];
