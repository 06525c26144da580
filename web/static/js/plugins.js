// The workbench's tools, installed in this order once the map is built (see workbench.js).
// Each module exports `install(app)`; add a tool with one import and one entry here.
import * as exportMenu from "./download.js";

export const PLUGINS = [exportMenu];
