# ruff: noqa: RUF001  (natural-language text: full-width punctuation and dashes are meant)
"""The site's message catalogue: every text a page shows, in English and Simplified Chinese.

Messages are plain text (pages escape them like any other value);
placeholders are ``str.format`` names, the same in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CATALOGUE"]

_EN = {
    "site_name": "farmtrace",
    "tagline": "Farm-to-table traceability you can check yourself",
    "nav_home": "Home",
    "language": "Language",
    "times_utc": "All times are UTC.",
    "footer_log": "Log {origin}, checkpoint of {size} blocks.",
    "footer_raw": "Raw data",
    # search
    "search_title": "Trace your chicken",
    "search_label": "Bird id, pack serial or batch hash",
    "search_button": "Trace",
    "search_hint": "Scan the QR code on the pack, or type what is printed under it.",
    "search_none": "Nothing in the log matches “{q}”.",
    "search_many": "Several packs carry this serial:",
    "search_empty": "Type a bird id, a pack serial or a batch hash.",
    "log_summary": "This site holds a verified copy of {entries} entries in {blocks} blocks.",
    "log_empty": "This site has not received any part of the log yet.",
    # notices
    "as_of": "The farm's servers cannot be reached: this page shows the data as of {time}.",
    "as_of_never": "The farm's servers cannot be reached, and this site has no data yet.",
    "conflict_title": "Warning: two different versions of this farm's record",
    "conflict_body": (
        "A source ({source}) presented a history of this log that contradicts the one "
        "this site already verified ({reason}, {time}). We kept ours and reported it."
    ),
    "conflict_fork": (
        "On {time}, {source} showed a version of this farm's record that contradicts the "
        "one this site had already checked, although both carry the farm's signature. "
        "Records may have been changed or deleted after the fact. This site kept the "
        "version it checked first, saved both as evidence, and shows only that version."
    ),
    "conflict_wrong_log": (
        "On {time}, {source} served a record that is not signed with this farm's key "
        "(another log, or an impostor). It was refused: the pages show the record this "
        "site checked."
    ),
    "conflict_bad_signature": (
        "On {time}, {source} served a record whose farm signature does not verify "
        "(damaged or forged). It was refused: the pages show the record this site checked."
    ),
    "conflict_rollback": (
        "On {time}, {source} went back in time: it now shows an older, shorter version of "
        "this farm's record than it showed this site before. Its data may have been "
        "restored from an old backup or rewritten, and recent records lost. This site kept "
        "the longer version it had checked, saved both as evidence, and shows only that one."
    ),
    "conflict_code": "Technical reason: {reason}.",
    "waiting_witnesses": (
        "The farm's newest data is waiting for independent witnesses to vouch for it "
        "({count} of {required} so far): this page shows the data as of {time}."
    ),
    "waiting_witnesses_held": (
        "The farm's newest data is waiting for independent witnesses to vouch for it "
        "({count} of {required} so far): this page shows the data checked earlier "
        "(checkpoint {size})."
    ),
    "waiting_witnesses_never": (
        "The farm's data is waiting for independent witnesses to vouch for it "
        "({count} of {required} so far): there is nothing to show yet."
    ),
    "recall_title": "RECALLED: do not eat",
    "recall_body": "{subjects} recalled on {time}: {reason}",
    # identity
    "bird_title": "Bird {bird}",
    "pack_title": "Pack {serial}",
    "lot_title": "Lot {lot}",
    "identity": "Identity",
    "bird": "Bird",
    "breed": "Breed",
    "hatchery": "Hatchery",
    "parent_flock": "Parent flock",
    "farm": "Farm",
    "barns": "Barns",
    "hatched_on": "Hatched",
    "slaughtered_on": "Slaughtered",
    "plant": "Plant",
    "died_on": "Died",
    "cause": "Cause",
    "gtin": "GTIN",
    "serial": "Serial",
    "lot": "Lot",
    "packed_on": "Packed",
    "weight_g": "Weight",
    "grams": "{value} g",
    "unknown": "not stated",
    "birds_in_pack": "Birds in this pack",
    "label_link": "Printable label",
    # stays and timeline
    "stays": "Where it lived",
    "stay_row": "Barn {barn}: {start} – {end}",
    "still_there": "now",
    "timeline": "Timeline",
    "when": "When",
    "what": "What",
    "who": "Signed by",
    "details": "Details",
    "proof": "Proof",
    "proof_link": "entry {index}",
    "tap_to_verify": "Tap a row to check its signature and proof in your browser.",
    # charts
    "charts": "Conditions",
    "chart_range": "{kind} in barn {barn}, hourly minimum, mean and maximum ({unit})",
    "chart_total": "{kind} used per day in barn {barn} ({unit})",
    "chart_bird_total": "{kind} per day, as its tag counted it",
    "chart_bird_range": "{kind} per day: minimum, mean and maximum ({unit})",
    "chart_band": "Dashed lines: the welfare limits for the bird's age.",
    "highest": "Highest",
    "lowest": "Lowest",
    "no_readings": "No readings.",
    # excursions
    "excursions": "Excursions",
    "excursions_none": "No reading left the welfare limits while the bird was there.",
    "excursion_row": "{minutes} min {direction} {limit} {unit}, peak {peak} {unit}",
    "above": "above",
    "below": "below",
    "sensor": "Sensor",
    "excursions_rule": (
        "Limits: the target temperature for the bird's age ±{margin} °C "
        "(after the Aviagen Ross handbook), humidity {low}–{high} %RH."
    ),
    # completeness
    "completeness": "Completeness",
    "completeness_intro": (
        "Every device numbers its readings 1, 2, 3…; a missing number is a reading "
        "that never reached the log."
    ),
    "device": "Device",
    "seqs": "Numbers",
    "received": "Received",
    "missing": "Missing",
    "gaps": "Gaps",
    "complete": "complete",
    # verification
    "verification": "Verification",
    "verification_summary": (
        "{readings} readings and {events} events in {blocks} blocks, in checkpoint {size} "
        "signed by the farm's log key, cosigned by {witnesses} witnesses."
    ),
    "log_signature_bad": "The log key's signature on this checkpoint does NOT verify.",
    "unknown_signatures": "{count} other signatures by keys this site does not know.",
    "raw_checkpoint": "Signed checkpoint",
    "raw_log": "Log keys",
    "raw_json": "This story as JSON",
    "verify_working": "Checking entry {entry}…",
    "verify_ok": (
        "Entry {entry} verified in your browser: signed by {signer}, in block {block}, "
        "in the checkpoint of {size} blocks, cosigned by {witnesses} witnesses."
    ),
    "verify_fail": "Entry {entry} did NOT verify: {check}.",
    "verify_unsupported": (
        "This browser cannot check Ed25519 signatures here (it needs WebCrypto over HTTPS)."
    ),
    "verify_expected": "expected",
    "verify_calculated": "calculated",
    "verify_raw": "Raw proof (JSON)",
    "check_proof": "Proof fetched",
    "check_checkpoint": "Checkpoint signed by the log key",
    "check_witnesses": "Witness cosignatures",
    "check_block_header": "Block header",
    "check_block_inclusion": "Block included in the log",
    "check_entry_inclusion": "Entry included in its block",
    "check_signer": "Signer registered and authorised",
    "check_entry_signature": "Entry signature",
    "verify_idle": "Nothing checked yet.",
    "verify_witnesses_ok": "{count} of {total} witnesses cosigned ({quorum} required): {names}",
    "verify_witnesses_short": (
        "only {count} of {total} witnesses cosigned, {quorum} required: {names}"
    ),
    # witnesses
    "witnesses_title": "Independent witnesses",
    "witnesses_intro": (
        "Witnesses are independent organisations that keep their own copy of this log's "
        "checkpoints, and cosign a new one only if it extends, unchanged, what they saw "
        "before. The farm cannot show different histories to different people without "
        "them noticing."
    ),
    "witnesses_summary": (
        "{count} of {total} independent witnesses vouch for this record (checkpoint "
        "{size}); this site requires {quorum}."
    ),
    "witnesses_short": (
        "Only {count} of {total} witnesses have cosigned checkpoint {size}, fewer than "
        "the {quorum} this site now requires."
    ),
    "witnesses_optional": (
        "{count} of {total} independent witnesses vouch for this record (checkpoint "
        "{size}); this site does not require them."
    ),
    "witnesses_none": (
        "No independent witness is configured for this site: the record is signed by "
        "the farm's key alone."
    ),
    "witness_cosigned": "cosigned {time} ({ago})",
    "witness_not_cosigned": "has not cosigned this checkpoint",
    "ago_now": "just now",
    "ago_minute": "1 minute ago",
    "ago_minutes": "{n} minutes ago",
    "ago_hour": "1 hour ago",
    "ago_hours": "{n} hours ago",
    "ago_day": "1 day ago",
    "ago_days": "{n} days ago",
    # batch
    "batch_title": "Batch {hash}",
    "block_height": "Height",
    "block_prev": "Previous block",
    "block_first": "First entry",
    "block_count": "Entries",
    "block_root": "Entries root",
    "block_closed": "Closed",
    "block_in_checkpoint": (
        "Included in checkpoint {size} (audit path of {hashes} hashes verified)."
    ),
    "block_not_yet": "Not yet covered by a signed checkpoint.",
    "block_entries": "Entries",
    "block_entries_more": "…and {count} more.",
    "type": "Type",
    "signer": "Signer",
    # label
    "label_title": "Label for pack {serial}",
    "label_print": "Use your browser's Print command to print this label.",
    # errors
    "error_title": "Something went wrong",
    "error_404": "We could not find that page.",
    "error_bad_link": "This is not a valid product code.",
    "error_bad_check_digit": (
        "The check digit of GTIN {gtin} is wrong: the code was mistyped or misread."
    ),
    "error_unknown_pack": "No pack with this code is in the log (GTIN {gtin}, serial {value}).",
    "error_unknown_lot": "No lot with this code is in the log (GTIN {gtin}, lot {value}).",
    "error_unknown_bird": "No bird “{bird}” is in the log.",
    "error_unknown_batch": "No batch “{hash}” is in the log.",
    "error_400": "The request was not understood.",
    "error_405": "This address does not accept that kind of request.",
    "error_500": "The site failed to answer. Please try again later.",
    "recall_signed": "Signed by {signer}.",
    # trace
    "trace_title": "Trace and recall",
    "trace_intro": (
        "Follow a lot, a pack, a bird or a barn through the log: where its birds came "
        "from, and where they went."
    ),
    "trace_subject": "Start from",
    "trace_subject_hint": (
        "lot:<GTIN>.<lot>, pack:<GTIN>.<serial>, bird:<id> or barn:<id>, "
        "or a pack's GS1 Digital Link."
    ),
    "trace_from": "From (UTC)",
    "trace_to": "To (UTC)",
    "trace_time_hint": (
        "For a barn: e.g. 2026-01-01 or 2026-01-01T06:00. Without them, its whole history."
    ),
    "trace_button": "Trace",
    "trace_bad_subject": "“{subject}” is not a lot, pack, bird or barn that can be traced.",
    "trace_bad_time": "“{value}” is not a date or time (write 2026-01-01 or 2026-01-01T06:00).",
    "trace_bad_window": "The time window must start before it ends.",
    "trace_none": "The log (up to its latest checkpoint) says nothing about “{subject}”.",
    "trace_result": "Trace of {subject}",
    "trace_window": "Time window: {start} – {end}",
    "trace_summary": (
        "{down} facts downstream, {up} upstream and {recalls} recalls, "
        "from the first {limit} entries of the log."
    ),
    "trace_birds": "Birds concerned ({count})",
    "trace_downstream": "Downstream: where it went",
    "trace_upstream": "Upstream: where it came from",
    "trace_recalls_none": "No recall concerns it.",
    "trace_feed_note": (
        "The log records no feed deliveries: the closest thing shown is a refill of a "
        "barn's feeder hopper (its level rising by {kg} kg or more between two readings)."
    ),
    "trace_nothing": "Nothing.",
    "trace_relation": "Relation",
    "trace_about": "About",
    "trace_recall_row": "{subject} recalled on {time} by {signer}: {reason}",
    "error_back": "Back to the home page",
}

_ZH = {
    "site_name": "farmtrace 溯源",
    "tagline": "您可以亲自核验的从农场到餐桌溯源",
    "nav_home": "首页",
    "language": "语言",
    "times_utc": "所有时间均为协调世界时（UTC）。",
    "footer_log": "日志 {origin}，检查点包含 {size} 个区块。",
    "footer_raw": "原始数据",
    "search_title": "追溯您的鸡肉",
    "search_label": "鸡只编号、包装序列号或批次哈希",
    "search_button": "追溯",
    "search_hint": "扫描包装上的二维码，或输入二维码下方印刷的编号。",
    "search_none": "日志中没有与“{q}”匹配的记录。",
    "search_many": "多个包装使用此序列号：",
    "search_empty": "请输入鸡只编号、包装序列号或批次哈希。",
    "log_summary": "本站保存了经过验证的日志副本：{entries} 条记录，{blocks} 个区块。",
    "log_empty": "本站尚未收到任何日志数据。",
    "as_of": "暂时无法连接农场服务器：本页显示截至 {time} 的数据。",
    "as_of_never": "暂时无法连接农场服务器，本站尚无数据。",
    "conflict_title": "警告：本农场的记录出现了两个不同版本",
    "conflict_body": (
        "数据源（{source}）提供的日志历史与本站已验证的历史相矛盾（{reason}，{time}）。"
        "本站保留了原有记录并已报告此问题。"
    ),
    "conflict_fork": (
        "{time}，{source} 提供的农场记录与本站先前已核验的版本相矛盾，尽管两者都带有农场的签名。"
        "这意味着记录可能在事后被修改或删除。本站保留了最先核验的版本，"
        "将两者都保存为证据，并且只显示该版本。"
    ),
    "conflict_wrong_log": (
        "{time}，{source} 提供的记录并非由本农场的密钥签名（来自其他日志或冒充者），"
        "已被拒绝：本页显示本站已核验的记录。"
    ),
    "conflict_bad_signature": (
        "{time}，{source} 提供的记录上的农场签名未通过验证（已损坏或伪造），"
        "已被拒绝：本页显示本站已核验的记录。"
    ),
    "conflict_rollback": (
        "{time}，{source} 出现了倒退：它现在显示的农场记录比先前向本站提供的版本更旧、更短。"
        "其数据可能已从旧备份恢复或被改写，近期记录可能已丢失。本站保留了先前核验的较长版本，"
        "将两者都保存为证据，并且只显示该版本。"
    ),
    "conflict_code": "技术原因：{reason}。",
    "waiting_witnesses": (
        "农场的最新数据正在等待独立见证方作证（已有 {count} 个，需要 {required} 个）："
        "本页显示截至 {time} 的数据。"
    ),
    "waiting_witnesses_held": (
        "农场的最新数据正在等待独立见证方作证（已有 {count} 个，需要 {required} 个）："
        "本页显示本站此前已核验的数据（检查点 {size}）。"
    ),
    "waiting_witnesses_never": (
        "农场的数据正在等待独立见证方作证（已有 {count} 个，需要 {required} 个）："
        "暂时没有可显示的数据。"
    ),
    "recall_title": "已召回：请勿食用",
    "recall_body": "{subjects} 于 {time} 被召回：{reason}",
    "bird_title": "鸡只 {bird}",
    "pack_title": "包装 {serial}",
    "lot_title": "批号 {lot}",
    "identity": "身份信息",
    "bird": "鸡只",
    "breed": "品种",
    "hatchery": "孵化场",
    "parent_flock": "种鸡群",
    "farm": "养殖场",
    "barns": "鸡舍",
    "hatched_on": "孵化",
    "slaughtered_on": "屠宰",
    "plant": "加工厂",
    "died_on": "死亡",
    "cause": "原因",
    "gtin": "全球贸易项目代码（GTIN）",
    "serial": "序列号",
    "lot": "批号",
    "packed_on": "包装",
    "weight_g": "重量",
    "grams": "{value} 克",
    "unknown": "未注明",
    "birds_in_pack": "本包装中的鸡只",
    "label_link": "可打印标签",
    "stays": "饲养地点",
    "stay_row": "鸡舍 {barn}：{start} – {end}",
    "still_there": "至今",
    "timeline": "时间线",
    "when": "时间",
    "what": "事件",
    "who": "签名者",
    "details": "详情",
    "proof": "证明",
    "proof_link": "记录 {index}",
    "tap_to_verify": "点击任一行，即可在浏览器中核验其签名和证明。",
    "charts": "饲养环境",
    "chart_range": "鸡舍 {barn} 的{kind}：每小时最低、平均和最高值（{unit}）",
    "chart_total": "鸡舍 {barn} 每日{kind}用量（{unit}）",
    "chart_bird_total": "每日{kind}（脚环计数）",
    "chart_bird_range": "每日{kind}：最低、平均和最高值（{unit}）",
    "chart_band": "虚线：该日龄鸡只的福利限值。",
    "highest": "最高",
    "lowest": "最低",
    "no_readings": "没有读数。",
    "excursions": "超限记录",
    "excursions_none": "鸡只在舍期间，没有读数超出福利限值。",
    "excursion_row": "{minutes} 分钟{direction} {limit} {unit}，峰值 {peak} {unit}",
    "above": "高于",
    "below": "低于",
    "sensor": "传感器",
    "excursions_rule": (
        "限值：按鸡只日龄的目标温度 ±{margin} °C（参照 Aviagen 罗斯饲养手册），"
        "湿度 {low}–{high} %RH。"
    ),
    "completeness": "完整性",
    "completeness_intro": "每台设备都按 1、2、3…… 为读数编号；缺少的编号表示该读数未进入日志。",
    "device": "设备",
    "seqs": "编号",
    "received": "已收到",
    "missing": "缺失",
    "gaps": "缺口",
    "complete": "完整",
    "verification": "核验",
    "verification_summary": (
        "{readings} 条读数和 {events} 个事件，位于 {blocks} 个区块中，"
        "包含在由农场日志密钥签名的检查点 {size} 中，并由 {witnesses} 个见证方联署。"
    ),
    "log_signature_bad": "此检查点上的日志密钥签名未通过验证。",
    "unknown_signatures": "另有 {count} 个签名来自本站未知的密钥。",
    "raw_checkpoint": "已签名的检查点",
    "raw_log": "日志密钥",
    "raw_json": "本页数据（JSON）",
    "verify_working": "正在核验记录 {entry}……",
    "verify_ok": (
        "记录 {entry} 已在您的浏览器中核验：由 {signer} 签名，位于区块 {block}，"
        "包含在 {size} 个区块的检查点中，并由 {witnesses} 个见证方联署。"
    ),
    "verify_fail": "记录 {entry} 未通过核验：{check}。",
    "verify_unsupported": "此浏览器无法在此核验 Ed25519 签名（需要 HTTPS 下的 WebCrypto）。",
    "verify_expected": "预期值",
    "verify_calculated": "计算值",
    "verify_raw": "原始证明（JSON）",
    "check_proof": "已获取证明",
    "check_checkpoint": "检查点由日志密钥签名",
    "check_witnesses": "见证方联署",
    "check_block_header": "区块头",
    "check_block_inclusion": "区块包含在日志中",
    "check_entry_inclusion": "记录包含在其区块中",
    "check_signer": "签名者已注册并获授权",
    "check_entry_signature": "记录签名",
    "verify_idle": "尚未核验任何记录。",
    "verify_witnesses_ok": "{total} 个见证方中有 {count} 个联署（要求 {quorum} 个）：{names}",
    "verify_witnesses_short": "{total} 个见证方中仅有 {count} 个联署，要求 {quorum} 个：{names}",
    "witnesses_title": "独立见证方",
    "witnesses_intro": (
        "见证方是独立的机构，各自保存本日志检查点的副本，"
        "只有当新的检查点原封不动地延续其先前所见的内容时才会联署。"
        "农场无法在不被察觉的情况下向不同的人展示不同的历史。"
    ),
    "witnesses_summary": (
        "{total} 个独立见证方中有 {count} 个为此记录作证（检查点 {size}）；"
        "本站要求至少 {quorum} 个。"
    ),
    "witnesses_short": (
        "检查点 {size} 仅由 {total} 个见证方中的 {count} 个联署，少于本站现在要求的 {quorum} 个。"
    ),
    "witnesses_optional": (
        "{total} 个独立见证方中有 {count} 个为此记录作证（检查点 {size}）；本站不要求见证方联署。"
    ),
    "witnesses_none": "本站未配置独立见证方：此记录仅由农场的密钥签名。",
    "witness_cosigned": "于 {time} 联署（{ago}）",
    "witness_not_cosigned": "尚未联署此检查点",
    "ago_now": "刚刚",
    "ago_minute": "1 分钟前",
    "ago_minutes": "{n} 分钟前",
    "ago_hour": "1 小时前",
    "ago_hours": "{n} 小时前",
    "ago_day": "1 天前",
    "ago_days": "{n} 天前",
    "batch_title": "批次 {hash}",
    "block_height": "高度",
    "block_prev": "上一区块",
    "block_first": "首条记录",
    "block_count": "记录数",
    "block_root": "记录根哈希",
    "block_closed": "封存时间",
    "block_in_checkpoint": "已包含在检查点 {size} 中（已验证 {hashes} 个哈希的审计路径）。",
    "block_not_yet": "尚未被已签名的检查点覆盖。",
    "block_entries": "记录",
    "block_entries_more": "……另有 {count} 条。",
    "type": "类型",
    "signer": "签名者",
    "label_title": "包装 {serial} 的标签",
    "label_print": "请使用浏览器的“打印”功能打印此标签。",
    "error_title": "出错了",
    "error_404": "找不到该页面。",
    "error_bad_link": "这不是有效的产品编码。",
    "error_bad_check_digit": "GTIN {gtin} 的校验位错误：编码可能输入或识读有误。",
    "error_unknown_pack": "日志中没有此编码的包装（GTIN {gtin}，序列号 {value}）。",
    "error_unknown_lot": "日志中没有此编码的批次（GTIN {gtin}，批号 {value}）。",
    "error_unknown_bird": "日志中没有鸡只“{bird}”。",
    "error_unknown_batch": "日志中没有批次“{hash}”。",
    "error_400": "无法理解该请求。",
    "error_405": "此地址不接受这种请求。",
    "error_500": "网站未能响应，请稍后再试。",
    "recall_signed": "签名者：{signer}。",
    "trace_title": "追溯与召回",
    "trace_intro": "在日志中追踪一个批次、包装、鸡只或鸡舍：其鸡只从何而来，又去往何处。",
    "trace_subject": "起点",
    "trace_subject_hint": (
        "lot:<GTIN>.<批号>、pack:<GTIN>.<序列号>、bird:<编号> 或 barn:<编号>，"
        "或包装的 GS1 数字链接。"
    ),
    "trace_from": "开始（UTC）",
    "trace_to": "结束（UTC）",
    "trace_time_hint": "用于鸡舍：例如 2026-01-01 或 2026-01-01T06:00。不填则为其全部历史。",
    "trace_button": "追溯",
    "trace_bad_subject": "“{subject}”不是可追溯的批次、包装、鸡只或鸡舍。",
    "trace_bad_time": "“{value}”不是有效的日期或时间（请写作 2026-01-01 或 2026-01-01T06:00）。",
    "trace_bad_window": "时间范围的开始必须早于结束。",
    "trace_none": "日志（截至最新检查点）中没有关于“{subject}”的记录。",
    "trace_result": "{subject} 的追溯结果",
    "trace_window": "时间范围：{start} – {end}",
    "trace_summary": (
        "下游 {down} 条、上游 {up} 条、召回 {recalls} 条，来自日志的前 {limit} 条记录。"
    ),
    "trace_birds": "相关鸡只（{count}）",
    "trace_downstream": "下游：去往何处",
    "trace_upstream": "上游：从何而来",
    "trace_recalls_none": "没有与之相关的召回。",
    "trace_feed_note": (
        "日志中没有饲料配送记录：此处显示最接近的信息，即鸡舍料仓的补料"
        "（两次读数之间料位上升 {kg} 千克或以上）。"
    ),
    "trace_nothing": "无。",
    "trace_relation": "关系",
    "trace_about": "对象",
    "trace_recall_row": "{subject} 于 {time} 被 {signer} 召回：{reason}",
    "error_back": "返回首页",
}

_WORDS_EN = {
    "ev_hatched": "Hatched",
    "ev_placed": "Placed in a barn",
    "ev_moved": "Moved",
    "ev_vaccinated": "Vaccinated",
    "ev_inspected": "Inspected",
    "ev_died": "Died",
    "ev_slaughtered": "Slaughtered",
    "ev_packed": "Packed",
    "ev_shipped": "Shipped",
    "ev_received": "Received",
    "ev_recalled": "Recalled",
    "kind_temperature": "Temperature",
    "kind_humidity": "Humidity",
    "kind_feed": "Feed",
    "kind_water": "Water",
    "kind_activity": "Activity",
    "kind_weight": "Weight",
    "field_barn": "Barn",
    "field_from_barn": "From barn",
    "field_vaccine": "Vaccine",
    "field_dose": "Dose",
    "field_result": "Result",
    "field_note": "Note",
    "field_cause": "Cause",
    "field_plant": "Plant",
    "field_outputs": "Outputs",
    "field_gtin": "GTIN",
    "field_serial": "Serial",
    "field_lot": "Lot",
    "field_weight_g": "Weight (g)",
    "field_destination": "Destination",
    "field_source": "From",
    "field_location": "Location",
    "field_reason": "Reason",
    "field_breed": "Breed",
    "field_hatchery": "Hatchery",
    "field_parent_flock": "Parent flock",
    "ev_device": "Device record",
    "ev_reading": "Reading",
    "rel_bird": "In the barn",
    "rel_output": "Carcass or cut",
    "rel_pack": "Packed into",
    "rel_shipment": "Shipping",
    "rel_packing": "Packing",
    "rel_input": "Slaughter",
    "rel_bird_event": "Bird's history",
    "rel_stay": "Stay in a barn",
    "rel_barn_event": "Barn",
    "rel_device": "Device",
    "rel_feed_refill": "Feed refill",
    "rel_recall": "Recall",
    "field_until_ms": "Until",
    "field_until_index": "Ended by entry",
    "field_before_kg": "Level before (kg)",
    "field_after_kg": "Level after (kg)",
    "field_before_index": "Reading before (entry)",
    "field_device": "Device",
    "field_dev": "Device",
    "field_action": "Action",
    "field_kinds": "Kinds",
    "field_farm": "Farm",
    "field_label": "Label",
    "field_pubkey": "Public key",
    "value_register": "registered",
    "value_revoke": "revoked",
    "value_pass": "pass",
    "value_fail": "fail",
}

_WORDS_ZH = {
    "ev_hatched": "孵化",
    "ev_placed": "入舍",
    "ev_moved": "转舍",
    "ev_vaccinated": "接种疫苗",
    "ev_inspected": "检查",
    "ev_died": "死亡",
    "ev_slaughtered": "屠宰",
    "ev_packed": "包装",
    "ev_shipped": "发货",
    "ev_received": "收货",
    "ev_recalled": "召回",
    "kind_temperature": "温度",
    "kind_humidity": "湿度",
    "kind_feed": "饲料",
    "kind_water": "饮水",
    "kind_activity": "活动量",
    "kind_weight": "体重",
    "field_barn": "鸡舍",
    "field_from_barn": "原鸡舍",
    "field_vaccine": "疫苗",
    "field_dose": "剂量",
    "field_result": "结果",
    "field_note": "备注",
    "field_cause": "原因",
    "field_plant": "加工厂",
    "field_outputs": "产出",
    "field_gtin": "GTIN",
    "field_serial": "序列号",
    "field_lot": "批号",
    "field_weight_g": "重量（克）",
    "field_destination": "目的地",
    "field_source": "发出地",
    "field_location": "地点",
    "field_reason": "原因",
    "field_breed": "品种",
    "field_hatchery": "孵化场",
    "field_parent_flock": "种鸡群",
    "ev_device": "设备记录",
    "ev_reading": "读数",
    "rel_bird": "在鸡舍中",
    "rel_output": "胴体或分割肉",
    "rel_pack": "包装为",
    "rel_shipment": "运输",
    "rel_packing": "包装",
    "rel_input": "屠宰",
    "rel_bird_event": "鸡只履历",
    "rel_stay": "在舍饲养",
    "rel_barn_event": "鸡舍",
    "rel_device": "设备",
    "rel_feed_refill": "料仓补料",
    "rel_recall": "召回",
    "field_until_ms": "直至",
    "field_until_index": "结束于记录",
    "field_before_kg": "补料前料位（千克）",
    "field_after_kg": "补料后料位（千克）",
    "field_before_index": "前一读数（记录）",
    "field_device": "设备",
    "field_dev": "设备",
    "field_action": "操作",
    "field_kinds": "类型",
    "field_farm": "养殖场",
    "field_label": "标签",
    "field_pubkey": "公钥",
    "value_register": "已注册",
    "value_revoke": "已撤销",
    "value_pass": "合格",
    "value_fail": "不合格",
}

CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(_EN | _WORDS_EN),
        "zh-CN": MappingProxyType(_ZH | _WORDS_ZH),
    }
)
"""Messages by language tag, then by key."""
