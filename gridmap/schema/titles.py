"""Titles of coded values: what 球机 and ``dome`` both mean, in English and Chinese."""

from __future__ import annotations

#: Titles of coded values (en, zh-CN), by "layer.column" or, for columns every layer shares,
#: by column name. Imports accept a title in place of its code; zh-CN exports write titles.
CHOICE_TITLES: dict[str, dict[str, tuple[str, str]]] = {
    "source": {
        "osm": ("OpenStreetMap", "OpenStreetMap"),
        "synthetic": ("Demo data (synthetic)", "演示数据（合成）"),
        "import": ("Imported", "导入"),
        "user": ("Edited by a user", "用户编辑"),
    },
    "buildings.levels_source": {
        "osm": ("OpenStreetMap building:levels", "OpenStreetMap 层数"),
        "height": ("From the OSM height, 3 m a storey", "由 OpenStreetMap 高度推算（每层约3米）"),
        "default": ("Assumed for the building type", "按建筑类型假定"),
        "import": ("Imported", "导入"),
        "user": ("Edited by a user", "用户编辑"),
    },
    "buildings.households_source": {
        "synthetic": (
            "Demo estimate: footprint × 0.8 × storeys ÷ 90 m²",
            "演示估算：占地面积×0.8×层数÷90平方米",
        ),
        "register": ("Counted from the register", "按住户登记统计"),
        "import": ("Imported", "导入"),
        "user": ("Edited by a user", "用户编辑"),
    },
    "facilities.kind": {
        "police_post": ("Police post", "警务站"),
        "community_office": ("Community office", "社区居委会"),
        "government": ("Government office", "政府机关"),
        "parking": ("Parking", "停车场"),
        "school": ("School", "学校"),
        "kindergarten": ("Kindergarten", "幼儿园"),
        "hospital": ("Hospital", "医院"),
        "clinic": ("Clinic", "诊所、卫生服务站"),
        "pharmacy": ("Pharmacy", "药店"),
        "bank": ("Bank", "银行"),
        "shop": ("Shop", "商店"),
        "restaurant": ("Restaurant", "餐饮"),
        "entrance": ("Entrance", "出入口"),
        "light": ("Street light", "路灯"),
        "toilets": ("Public toilets", "公共厕所"),
        "library": ("Library", "图书馆"),
        "culture": ("Cultural venue", "文化设施"),
        "market": ("Market", "市场"),
        "office": ("Office", "办公单位"),
        "other": ("Other", "其他"),
    },
    "cameras.kind": {
        "fixed": ("Fixed camera", "固定枪机"),
        "ptz": ("PTZ camera", "云台摄像机"),
        "dome": ("Dome camera", "球机"),
    },
    "cameras.target": {  # free text; these are the codes the browser names (choice.cameras.*)
        "intersection": ("Intersection", "路口"),
        "entrance": ("Entrance", "出入口"),
        "street": ("Street", "街道"),
        "parking": ("Parking", "停车场"),
    },
    "people.gender": {
        "F": ("Female", "女"),
        "M": ("Male", "男"),
    },
    "visits.category": {
        "hardship": ("Hardship", "困难群众"),
        "elderly_alone": ("Elderly living alone", "独居老人"),
        "disabled": ("Disabled", "残疾人"),
        "migrant": ("Migrant", "流动人员"),
        "veteran_party_member": ("Veteran party member", "老党员"),
        "assisted": ("Under assistance", "帮扶对象"),
        "routine": ("Routine", "日常走访"),
    },
    "visits.outcome": {
        "met": ("Met", "已见面"),
        "not_home": ("Not at home", "不在家"),
        "refused": ("Refused", "拒绝"),
        "issue_found": ("Issue found", "发现问题"),
    },
    "incidents.kind": {
        "burglary": ("Burglary", "入室盗窃"),
        "vehicle_theft": ("Vehicle theft", "盗窃车辆"),
        "dispute": ("Dispute", "矛盾纠纷"),
        "theft": ("Theft", "盗窃"),
        "fire_hazard": ("Fire hazard", "消防隐患"),
        "other": ("Other", "其他"),
    },
    "incidents.status": {
        "open": ("Open", "未结案"),
        "closed": ("Closed", "已结案"),
    },
}


def choice_titles(layer: str, column: str) -> dict[str, tuple[str, str]]:
    """Return {code: (English title, Chinese title)} of a coded column (empty if none)."""
    return CHOICE_TITLES.get(f"{layer}.{column}") or CHOICE_TITLES.get(column) or {}
