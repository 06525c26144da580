"""The layers of a gridmap workspace: names, geometry types, columns, units.

This module is the single source of truth for the layer schema. The workspace creates its tables
from it, importers validate against it, the web app describes collections from it, and
``docs/layers.md`` is generated from it (``scripts/gen_layer_docs``; a test fails when the two
disagree). Geometry is always stored in EPSG:4326 (WGS84 longitude/latitude).
"""

from __future__ import annotations

from gridmap.schema.model import Column, Layer

STORAGE_CRS = "EPSG:4326"
STORAGE_EPSG = 4326
#: Coordinates are stored on a grid of 1e-7 degrees (about 1 cm), so that GeoJSON's rounding to
#: seven decimals changes nothing and cannot make a valid polygon invalid.
STORAGE_PRECISION_DEG = 1e-7

#: The six household categories every grid worker visits monthly (六必访), in display order.
VISIT_CATEGORIES: tuple[str, ...] = (
    "hardship",
    "elderly_alone",
    "disabled",
    "migrant",
    "veteran_party_member",
    "assisted",
)


SOURCE = Column(
    "source",
    "str",
    "Source",
    "数据来源",
    choices=("osm", "synthetic", "import", "user"),
    doc="Where the row comes from: osm, synthetic (demo generator), import, or user (edited)",
)

_CATEGORY_COLUMNS = (
    Column("hardship", "bool", "Household in hardship (困难群众)", "困难群众", personal=True),
    Column("elderly_alone", "bool", "Elderly person living alone", "独居老人", personal=True),
    Column("disabled", "bool", "Disabled member(s)", "残疾家庭/残疾人", personal=True),
    Column("migrant", "bool", "Migrant / floating population (流动人员)", "流动人员"),
    Column("veteran_party_member", "bool", "Veteran party member", "老党员"),
    Column("assisted", "bool", "Under assistance (帮扶对象)", "帮扶对象", personal=True),
)

#: Where a building's storeys come from (``buildings.levels_source``).
LEVELS_SOURCES: tuple[str, ...] = ("osm", "height", "default", "import", "user")
#: Where a building's households and residents come from (``buildings.households_source``).
HOUSEHOLDS_SOURCES: tuple[str, ...] = ("synthetic", "register", "import", "user")

LAYERS: dict[str, Layer] = {}


def _add(layer: Layer) -> None:
    LAYERS[layer.name] = layer


_add(
    Layer(
        "community",
        "MULTIPOLYGON",
        "Community boundary",
        "社区边界",
        "Boundary of each community (社区, residents' committee area).",
        (
            Column(
                "code",
                "str",
                "Community code: district 6 + street 3 + community 3",
                "社区代码（12位）",
                required=True,
            ),
            Column("name", "str", "Community name", "社区名称", required=True),
            Column("street", "str", "Street office (街道)", "所属街道"),
            Column("district", "str", "District (区)", "所属区"),
            Column("area_m2", "float", "Area", "面积", unit="m²"),
            SOURCE,
        ),
        key="code",
    )
)
_add(
    Layer(
        "grids",
        "MULTIPOLYGON",
        "Grids",
        "网格",
        "Grids (网格), the unit of daily work. Code: 15 digits, DB11/T 2157 style — district 6, "
        "street 3, community 3, sequence 3 — or, with setting grid_code_form = cjt349, 20 digits "
        "(CJ/T 349-2010: object 6 + district 6 + street 3 + community 3 + sequence 2); numbered "
        "west to east, north to south.",
        (
            Column("code", "str", "Grid code (15 digits)", "网格编码（15位）", required=True),
            Column("name", "str", "Grid name", "网格名称", required=True),
            Column("community_code", "str", "Community the grid belongs to", "所属社区代码"),
            Column("worker", "str", "Grid worker (网格员)", "网格员"),
            Column(
                "worker_phone",
                "str",
                "Grid worker's phone",
                "网格员电话",
                doc="posted on the grid's public notice board (网格公示牌), so not masked",
                format="phone",
            ),
            Column("households", "int", "Households in the grid", "户数", unit="households"),
            Column("residents", "int", "Residents in the grid", "人口", unit="persons"),
            Column("buildings", "int", "Buildings in the grid", "楼栋数", unit="buildings"),
            Column("area_m2", "float", "Area", "面积", unit="m²"),
            SOURCE,
        ),
        key="code",
    )
)
_add(
    Layer(
        "buildings",
        "MULTIPOLYGON",
        "Buildings",
        "楼栋",
        "Building footprints (楼栋) with storeys, households and residents; levels_source and "
        "households_source say where those numbers come from (the outline's origin is source).",
        (
            Column(
                "osm_id", "int", "OpenStreetMap way/relation id (none if not from OSM)", "OSM 编号"
            ),
            Column("name", "str", "Name", "名称"),
            Column(
                "building",
                "str",
                "OSM building tag (residential, apartments, yes, ...)",
                "建筑类型",
            ),
            Column("levels", "int", "Storeys above ground", "层数", unit="storeys"),
            Column(
                "levels_source",
                "str",
                "Where the storeys come from",
                "层数来源",
                choices=LEVELS_SOURCES,
                doc="osm: the OSM tag building:levels; height: the building's OSM height ÷ 3 m "
                "a storey (no building:levels); default: assumed for the building type (OSM "
                "gives neither); import: an imported file; user: edited by a user",
            ),
            Column(
                "height_m",
                "float",
                "Height",
                "高度",
                unit="m",
                doc="as OSM gives it (height, else building:height, else est_height); empty "
                "when OSM gives none, never made up from the storeys",
            ),
            Column("residential", "bool", "Has homes", "是否住宅"),
            Column("households", "int", "Households", "户数", unit="households"),
            Column("residents", "int", "Residents", "人口", unit="persons"),
            Column(
                "households_source",
                "str",
                "Where households and residents come from",
                "户数来源",
                choices=HOUSEHOLDS_SOURCES,
                doc="synthetic: estimated for the demo — home floor area (footprint × 0.8 × "
                "storeys) ÷ 90 m² a household, none in a building without homes — and the "
                "demo register drawn to match; register: counted from the households and "
                "people layers; import: an imported file; user: edited by a user",
            ),
            Column("grid_code", "str", "Grid the building belongs to", "所属网格"),
            Column("address", "str", "Address", "地址"),
            SOURCE,
        ),
    )
)
_add(
    Layer(
        "facilities",
        "POINT",
        "Units and facilities",
        "单位与设施",
        "Units (单位) and public facilities: police posts, offices, parking, schools, shops, ...",
        (
            Column(
                "kind",
                "str",
                "Kind of facility",
                "类别",
                required=True,
                choices=(
                    "police_post",
                    "community_office",
                    "government",
                    "parking",
                    "school",
                    "kindergarten",
                    "hospital",
                    "clinic",
                    "pharmacy",
                    "bank",
                    "shop",
                    "restaurant",
                    "entrance",
                    "light",
                    "toilets",
                    "library",
                    "culture",
                    "market",
                    "office",
                    "other",
                ),
            ),
            Column("name", "str", "Name", "名称"),
            Column("osm_id", "int", "OpenStreetMap id", "OSM 编号"),
            Column("osm_tag", "str", "OSM tag it came from (key=value)", "OSM 标签"),
            Column("address", "str", "Address", "地址"),
            Column("phone", "str", "Public phone number", "电话", format="phone"),
            Column("grid_code", "str", "Grid the facility lies in", "所属网格"),
            SOURCE,
        ),
    )
)
_add(
    Layer(
        "cameras",
        "POINT",
        "Cameras",
        "监控探头",
        "Surveillance cameras (技防). Bearing is clockwise from north; the view is a sector of "
        "fov_deg centred on the bearing, out to range_m (ptz and dome cameras can turn: 360).",
        (
            Column("code", "str", "Camera code", "编号", required=True),
            Column("name", "str", "Location name", "位置名称"),
            Column(
                "kind",
                "str",
                "fixed, ptz or dome",
                "类型",
                required=True,
                choices=("fixed", "ptz", "dome"),
            ),
            Column("height_m", "float", "Mounting height", "安装高度", unit="m"),
            Column(
                "bearing_deg",
                "float",
                "Bearing of view centre, clockwise from north",
                "朝向",
                unit="degrees",
            ),
            Column("fov_deg", "float", "Horizontal field of view", "水平视角", unit="degrees"),
            Column("range_m", "float", "Useful viewing range", "有效距离", unit="m"),
            Column(
                "target",
                "str",
                "What it watches: intersection, entrance, street, parking",
                "监控对象",
            ),
            Column("grid_code", "str", "Grid the camera lies in", "所属网格"),
            SOURCE,
        ),
        key="code",
    )
)
_add(
    Layer(
        "streets",
        "LINESTRING",
        "Streets",
        "道路",
        "The street graph from OpenStreetMap (osmnx MultiDiGraph edges, drawn u→v). Two-way "
        "streets appear once per direction. walk/drive say which network an edge belongs to.",
        (
            Column("u", "int", "OSM node id where the edge starts", "起点节点", required=True),
            Column("v", "int", "OSM node id where the edge ends", "终点节点", required=True),
            Column("key", "int", "Parallel-edge key", "平行边序号"),
            Column("osmid", "str", "OSM way id(s), comma-separated", "OSM 道路编号"),
            Column("name", "str", "Street name", "路名"),
            Column("highway", "str", "OSM highway class", "道路等级"),
            Column("oneway", "bool", "One-way for vehicles", "单行"),
            Column("length_m", "float", "Length", "长度", unit="m"),
            Column("walk", "bool", "In the walking network", "步行网络"),
            Column("drive", "bool", "In the driving network", "车行网络"),
            SOURCE,
        ),
    )
)
_add(
    Layer(
        "street_nodes",
        "POINT",
        "Street nodes",
        "道路节点",
        "Nodes of the street graph (intersections and dead ends), with their OSM node ids.",
        (
            Column("osmid", "int", "OSM node id", "OSM 节点编号", required=True),
            Column("street_count", "int", "Streets meeting here", "相交道路数"),
            Column(
                "highway", "str", "OSM highway tag of the node (traffic_signals, ...)", "节点类型"
            ),
            SOURCE,
        ),
        key="osmid",
    )
)
_add(
    Layer(
        "households",
        "POINT",
        "Households",
        "住户",
        "The living register (活户籍): one row per household, located at its building.",
        (
            Column("household_id", "str", "Household id", "户编号", required=True),
            Column("building_osm_id", "int", "Building (OSM id)", "所在楼栋"),
            Column("grid_code", "str", "Grid", "所属网格"),
            Column("address", "str", "Address: building, unit, room", "地址"),
            Column("head_name", "str", "Head of household", "户主姓名", personal=True),
            Column("phone", "str", "Contact phone", "联系电话", personal=True, format="phone"),
            Column("members", "int", "Members", "人数", unit="persons"),
            Column("rented", "bool", "Rented home (出租屋)", "出租屋"),
            Column(
                "rental_score",
                "int",
                "Rented-home grade, 10-point score (rented homes only)",
                "出租屋评分",
                unit="points",
            ),
            *_CATEGORY_COLUMNS,
            SOURCE,
        ),
        key="household_id",
    )
)
_add(
    Layer(
        "people",
        None,
        "People",
        "人员",
        "The living archive (活档案): one row per person, linked to a household. No geometry: "
        "a bbox selects the people whose household lies in it.",
        (
            Column("person_id", "str", "Person id", "人员编号", required=True),
            Column(
                "household_id",
                "str",
                "Household id",
                "户编号",
                required=True,
                references=("households", "household_id"),
                on_delete="cascade",
                doc="a person belongs to a household: deleting the household deletes its people",
            ),
            Column("name", "str", "Name", "姓名", personal=True, required=True),
            Column("id_number", "str", "Resident ID number (18 digits)", "身份证号", personal=True),
            Column("gender", "str", "F or M", "性别", choices=("F", "M")),
            Column("birth_date", "date", "Date of birth", "出生日期", personal=True),
            Column("phone", "str", "Phone", "电话", personal=True, format="phone"),
            Column("relation", "str", "Relation to head of household", "与户主关系"),
            Column(
                "registered_here", "bool", "Household registration (户籍) is here", "户籍在本地"
            ),
            Column("arrived", "date", "Date of arrival (migrants)", "来驻日期"),
            *_CATEGORY_COLUMNS,
            SOURCE,
        ),
        located_by=("households", "household_id"),
        key="person_id",
    )
)
_add(
    Layer(
        "visits",
        "POINT",
        "Visit log",
        "走访记录",
        "Home visits made by grid workers (六必访 and others), located at the household.",
        (
            Column("visit_id", "str", "Visit id", "走访编号", required=True),
            Column(
                "household_id",
                "str",
                "Household visited",
                "户编号",
                required=True,
                references=("households", "household_id"),
                on_delete="restrict",
                doc="the visit log is a record: a household with visits cannot be deleted",
            ),
            Column("grid_code", "str", "Grid", "所属网格"),
            Column("worker", "str", "Who visited", "走访人"),
            Column("visited_at", "datetime", "When", "走访时间", required=True),
            Column(
                "category",
                "str",
                "Visit category",
                "走访类别",
                choices=(*VISIT_CATEGORIES, "routine"),
                personal_values=VISIT_CATEGORIES,
                doc="which of the six categories a visit was for tells the household's status "
                "(hardship, disability, ...): masked, all six alike, for roles without personal "
                "access; routine visits stay visible",
            ),
            Column(
                "outcome",
                "str",
                "Outcome",
                "走访结果",
                choices=("met", "not_home", "refused", "issue_found"),
            ),
            Column("note", "str", "Note", "备注", personal=True),
            SOURCE,
        ),
        key="visit_id",
    )
)
_add(
    Layer(
        "incidents",
        "POINT",
        "Incidents",
        "案事件",
        "Incidents: burglary, vehicle theft, disputes and others, with time and place.",
        (
            Column("incident_id", "str", "Incident id", "事件编号", required=True),
            Column("occurred_at", "datetime", "When", "发生时间", required=True),
            Column(
                "kind",
                "str",
                "Kind",
                "类别",
                required=True,
                choices=("burglary", "vehicle_theft", "dispute", "theft", "fire_hazard", "other"),
            ),
            Column(
                "description",
                "str",
                "Description",
                "描述",
                personal=True,
                doc="free text that may name the people involved",
            ),
            Column("grid_code", "str", "Grid", "所属网格"),
            Column("status", "str", "open or closed", "状态", choices=("open", "closed")),
            SOURCE,
        ),
        key="incident_id",
    )
)

#: Layers in drawing order, bottom to top.
LAYER_ORDER: tuple[str, ...] = (
    "community",
    "grids",
    "buildings",
    "streets",
    "street_nodes",
    "facilities",
    "cameras",
    "households",
    "visits",
    "incidents",
    "people",
)


def shapefile_names(columns: list[str]) -> dict[str, str]:
    """Return unique names of at most 10 characters for a Shapefile's columns."""
    out: dict[str, str] = {}
    for col in columns:
        name, n = col[:10], 1
        while name in out.values():
            n += 1
            name = f"{col[: 10 - len(str(n))]}{n}"
        out[col] = name
    return out


def referring(layer: str) -> list[tuple[Layer, Column]]:
    """Return the (layer, column) pairs whose column refers to ``layer``'s key."""
    return [
        (other, c)
        for other in LAYERS.values()
        for c in other.columns
        if c.references and c.references[0] == layer
    ]


def get_layer(name: str) -> Layer:
    """Return the layer schema called ``name``, or raise :class:`LayerNotFoundError`."""
    from gridmap.errors import LayerNotFoundError

    try:
        return LAYERS[name]
    except KeyError:
        known = ", ".join(LAYER_ORDER)
        raise LayerNotFoundError(f"There is no layer '{name}'. Layers: {known}.") from None
