// The workbench's tools, installed in this order once the map is built (see workbench.js).
// Each module exports `install(app)`; add a tool with one import and one entry here.
import * as building from "./building.js";
import * as chooser from "./chooser.js";
import * as exportMenu from "./download.js";
import * as planning from "./planning.js";
import * as print from "./print.js";
import * as search from "./search.js";
import * as table from "./table.js";

export const PLUGINS = [chooser, search, building, exportMenu, table, print, planning];
