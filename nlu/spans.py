"""Span repair for entities predicted on Chinese text (pure Python, no Rasa import).

The model tags tokens; the contract (shared/design/nlu.md) scores exact character spans.
These rules move the *edges* of predicted spans to the contract's conventions and drop
predictions the contract rules out. They never invent an entity the model did not
predict. Each rule is small and named after the convention it enforces:

amount     money phrase with its unit, not 钱 (四千|二 → 四千二, 3万|6 → 3万6); a bare
           number that is a date, time, count or multiple (15号, 8点, 12个小时, 1.5倍,
           三千多件) is not money.
headcount  number phrase with 人 when 人 follows directly (九个|人 → 九个人, 一百多号人);
           no number → no headcount; 一百多个小时 is not people.
hometown   the full place as written, province and city together (湖南|怀化 → 湖南怀化);
           no stray trailing 来/的/人; something that is not a known place is dropped.
employer   the name as written with its business word (宏达|模具厂, 张老板的|厂); a bare
           business word (酒店, 饰品厂) takes the name right before it or is dropped; a
           generic word (老板, 东家, 运费) or a place is never an employer.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

CJK = r"\u4e00-\u9fff"
NUM_CHARS = "0123456789０１２３４５６７８９〇零一二两三四五六七八九十百千万亿几仨俩"
_NUM = set(NUM_CHARS)

# ---------------------------------------------------------------- amount
# What may follow a money number inside the phrase (三千五|百, 八千多|块, 4万余|元, 两万|出头).
_AMOUNT_TAIL = re.compile(r"^(?:[" + NUM_CHARS + r".．]|多|余|来|出头|块|元|圆|w|W|k|K|万|千|百)")
# A number followed by one of these is not money (15号, 8点, 12个小时, 1.5倍, 三千多件, 30天).
_NOT_MONEY_AFTER = re.compile(
    r"^(?:多|来|余)?(?:号|日|点|个|小时|钟|天|倍|度|岁|件|次|斤|公斤|米|楼|层|年|月|周|星期|礼拜|分钟|秒|人|名|%|％|单(?!身)|台|平|条|张|双|遍|趟|箱|吨|公里|集|期|届|针|颗|根|只|辆|部|套|页|份|袋|包(?!工)|桶|瓶|盒|碗|杯|头|棵)"
)
_MONEY_MARK = re.compile(r"[块元圆万千百wWkK¥￥]|出头|多|余")

# ---------------------------------------------------------------- headcount
_PEOPLE_NOT_AFTER = re.compile(r"^(?:多)?(?:小时|钟头|钟|月|天|年|件|次|星期|礼拜|单(?!身)|点|号)")

# ---------------------------------------------------------------- employer
# Business words that end a name: 宏达|模具厂, 万家|装饰, 顺丰|同城, 张老板的|厂.
_BUSINESS_WORDS = (
    "有限责任公司|股份有限公司|有限公司|分公司|公司|集团|工厂|厂|劳务|劳务派遣|人力资源|人力|物流|物业|"
    "运输|速运|速递|快递|同城|配送|酒店|大酒店|宾馆|酒楼|酒家|饭店|餐厅|餐馆|饭馆|食府|火锅|烧烤|"
    "面馆|超市|装饰|装修队|工程队|施工队|建筑|建工|建设|鞋业|纺织|服饰|制衣|电子|电器|机械|五金|"
    "模具|家具|塑料|印刷|食品|科技|制品|幼儿园|学校|医院|诊所|美容院|足浴|网吧|KTV|ktv|洗车行|"
    "汽修厂|汽修店|养殖场|农场|茶厂|砖厂|石材|贸易|实业|工贸|服务中心|家政|洗浴|洗浴中心|浴场|会所|足疗|"
    "按摩|茶餐厅|大排档|客栈|民宿|旅馆"
).split("|")
# … and, after a possessive (张老板的|工地, 李姐的|店), also the words for a workplace.
_AFTER_POSSESSIVE = _BUSINESS_WORDS + ["工地", "店", "装修队", "队", "作坊", "车间", "档口", "铺子", "摊"]
_BUSINESS = "|".join(sorted(set(_BUSINESS_WORDS), key=len, reverse=True))
_BUSINESS_RE = re.compile(r"^(?:" + _BUSINESS + r")")
# A business word followed by one of these names a person or a part (快递员, 厂长, 公司里的人 is fine).
_NOT_AFTER_BUSINESS = set("员长主师小哥姐工车")
_INDUSTRY = (
    "服装|电子|饰品|五金|鞋|模具|家具|食品|印刷|纺织|塑料|玩具|化工|机械|包装|注塑|木材|石材|陶瓷|灯具|"
    "制衣|箱包|眼镜|汽配|配件|钢|砖|茶|小|大|工|那个|这个|一个|一家|那家|这家|我们|他们|本地|外地|黑|私人"
)
_GENERIC_EMPLOYER = re.compile(r"^(?:" + _INDUSTRY + r")?(?:" + _BUSINESS + r")$")
_NOT_EMPLOYER = {
    "老板", "老板娘", "东家", "雇主", "工头", "包工头", "老细", "老闆", "厂里", "厂子", "公司里", "单位",
    "平台", "站长", "主管", "领导", "班长", "经理", "人事", "运费", "工钱", "工资", "甲方", "总包", "分包",
    "中介", "各种", "保洁", "保安", "快递", "外卖", "老乡", "工友",
}
_FUNC_CHARS = set("的在了是给被把就都也还又才不没很欠让叫说要找做干我你他她们送去来到和跟")

# ---------------------------------------------------------------- hometown
_PROVINCES = (
    "河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|"
    "陕西|甘肃|青海|台湾|内蒙古|内蒙|广西|西藏|宁夏|新疆|北京|天津|上海|重庆"
)
_PROVINCE_RE = re.compile(r"^(?:" + _PROVINCES + r")(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区)?$")
_PLACE_SUFFIX = re.compile(r"(?:省|市|县|区|州|盟|旗|镇|乡|村|屯|自治区)$")


# Function words that do not occur inside a business or person name (才休一天, 就不给).
_NOT_IN_NAME = set("才就都还又没很欠被把")
# X + 外包公司 / 代工厂 / 加工厂 / 配套厂 is a contractor of X, not part of X's name.
_NOT_NAME_PREFIX = ("外包", "代工", "加工", "配套", "外协", "下属", "旗下", "合作", "分包", "总包", "下面")
_NOT_NAME = {"一个", "一家", "这个", "那个", "这家", "那家", "我们", "他们", "你们", "咱们", "俺们", "本地",
             "外地", "当地", "附近", "一些", "那些", "这些", "私人", "小", "大", "老家", "老板", "朋友", "亲戚"}


def _word_before(text: str, i: int) -> Optional[str]:
    """The jieba word that ends right before position i (only letters / CJK)."""
    import jieba

    words = [w for w in jieba.lcut(text[max(0, i - 8):i]) if w.strip()]
    if not words or not re.fullmatch(r"[" + CJK + r"A-Za-z0-9]+", words[-1]):
        return None
    return words[-1]


def _word_frequency(word: str) -> int:
    """How common a word is in jieba's dictionary (0 if unknown: names usually are)."""
    import jieba

    jieba.initialize()
    return int(jieba.dt.FREQ.get(word) or 0)


def _ent(e: Dict[str, Any], text: str, start: int, end: int) -> Dict[str, Any]:
    new = dict(e)
    if (start, end) != (e["start"], e["end"]):
        new["start"], new["end"] = start, end
        new["value"] = text[start:end]
        new["_changed"] = True
    return new


class SpanRepair:
    """Applies the conventions above to a list of Rasa entity dicts."""

    def __init__(self, places: Iterable[str] = (), home_places: Optional[Iterable[str]] = None,
                 employers: Iterable[str] = ()) -> None:
        """places: every known place name; home_places: the ones a province may be followed by
        in a hometown (cities, prefectures, counties — default: all places); employers: known
        employer names (lookup table and annotations), never dropped as common words."""
        self.places: Set[str] = {p for p in places if p}
        self.employers: Set[str] = {e for e in employers if e}
        home = {p for p in (home_places if home_places is not None else self.places) if p}
        # longest first, so 齐齐哈尔 wins over a two-character prefix
        ordered = sorted(home, key=len, reverse=True)
        self._place_prefix = re.compile("^(?:" + "|".join(map(re.escape, ordered)) + ")") if ordered else None

    # ------------------------------------------------------------ helpers
    def _place_at(self, text: str, i: int) -> Optional[str]:
        if self._place_prefix is None:
            return None
        m = self._place_prefix.match(text[i:])
        return m.group(0) if m else None

    def _is_place(self, s: str) -> bool:
        if s in self.places or _PROVINCE_RE.match(s):
            return True
        m = re.match(r"^(?:" + _PROVINCES + r")(?:省)?(.+)$", s)  # 河北|邢台
        if m and m.group(1) != s and self._is_place(m.group(1)):
            return True
        for suffix in ("省", "市", "县", "区"):
            if s.endswith(suffix) and s[: -len(suffix)] in self.places:
                return True
        return False

    # ------------------------------------------------------------ per type
    def _amount(self, text: str, e: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        s, t = e["start"], e["end"]
        while s > 0 and text[s - 1] in _NUM and text[s - 1] not in "几":
            s -= 1
        while t < len(text):
            m = _AMOUNT_TAIL.match(text[t:])
            if not m:
                break
            piece = m.group(0)
            # a trailing numeral continues the number only after a unit (四千|二, 3万|6, 1.2w is
            # one piece) and must not start a count (两千|两个月, 3万|6个人) or a word (两万|一直)
            if piece[0] in _NUM or piece[0] in ".．":
                if text[t - 1] not in "十百千万亿wWkK" or (
                        text[t] == "一" and t + 1 < len(text) and re.match(r"[" + CJK + r"]", text[t + 1])
                        and text[t + 1] not in _NUM):
                    break
                j = t
                while j < len(text) and (text[j] in _NUM or text[j] in ".．"):
                    j += 1
                if _NOT_MONEY_AFTER.match(text[j:]) or (j < len(text) and text[j] in "个"):
                    break
                t = j
                continue
            t += len(piece)
        span = text[s:t]
        if _NOT_MONEY_AFTER.match(text[t:]) and not re.search(r"[块元圆¥￥wWkK]", span):
            return None
        if re.search(r"[号日点倍度岁件次个人月年天周]$", span):
            return None
        if s > 0 and text[s - 1] == "第":
            return None
        # an age: 今年30了, 年纪50多
        if re.search(r"(?:今年|年纪|年龄|岁数|都)$", text[max(0, s - 2):s]) and not re.search(r"[块元圆万千wWkK]", span):
            return None
        if not any(c in _NUM for c in span) and not re.search(r"[几百千万]", span):
            return None
        return _ent(e, text, s, t)

    def _headcount(self, text: str, e: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        s, t = e["start"], e["end"]
        while s > 0 and text[s - 1] in _NUM:
            s -= 1
        while t < len(text) and text[t] in _NUM and text[t - 1] in _NUM:
            t += 1
        if t < len(text) and text[t] in "多来几余" and text[t - 1] in _NUM:
            t += 1
        if t < len(text) and text[t] in "个号名位" and text[t - 1] in _NUM | set("多来几余"):
            t += 1
        if t < len(text) and text[t] == "人" and text[t - 1] in "个号" :
            t += 1
        span = text[s:t]
        if not any(c in _NUM for c in span):
            return None
        # a count of people ends in a classifier or 人 (九个, 200多人, 六百多名), or is 俩 / 仨;
        # 号 counts people only before 人 (一百多号人), else it is a date (5月20号)
        if not re.search(r"[个人名位口号俩仨]$", span) or span.endswith("号"):
            return None
        if _PEOPLE_NOT_AFTER.match(text[t:]):
            return None
        return _ent(e, text, s, t)

    def _hometown(self, text: str, e: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        s, t = e["start"], e["end"]
        span = text[s:t]
        # trim a glued 来 / 的 / 人 / 老 (陕西来, 江西的)
        while len(span) > 2 and span[-1] in "来的人老那这" and self._is_place(span[:-1]):
            t -= 1
            span = text[s:t]
        # a span ending inside a known place: 江西赣州于|都 → 江西赣州于都
        for k in (1, 2):
            if t - k > s:
                inside = self._place_at(text, t - k)
                if inside and len(inside) > k:
                    t = t - k + len(inside)
                    break
        # the full place as written: province, city and county together (湖南|怀化, 四川南充|营山县)
        for _ in range(2):
            nxt = self._place_at(text, t)
            if not nxt or _PROVINCE_RE.match(nxt):
                break
            t += len(nxt)
            if t < len(text) and text[t] in "省市县区" and not text.startswith("市场", t):
                t += 1
        # city preceded directly by its province: 湖南|怀化
        if not _PROVINCE_RE.match(span):
            for p in sorted(_PROVINCES.split("|"), key=len, reverse=True):
                if s >= len(p) and text[s - len(p):s] == p:
                    s -= len(p)
                    break
        # a province followed by an unlisted county / city / district: 四川|达县, 湖南|长沙市
        m = re.match(r"^[" + CJK + r"]{1,3}?[县市区州盟旗]", text[t:])
        if _PROVINCE_RE.match(text[s:t]) and m and not (set(m.group(0)) & _FUNC_CHARS) \
                and not text.startswith(("市场", "区别", "县城"), t + len(m.group(0)) - 1):
            t += len(m.group(0))
        span = text[s:t]
        if not (self._is_place(span) or any(p in span for p in self.places if len(p) >= 2)
                or _PLACE_SUFFIX.search(span)):
            return None
        return _ent(e, text, s, t)

    @staticmethod
    def _extend_business(text: str, t: int, words: Sequence[str]) -> int:
        """End of the longest "≤2 name characters + business word(s)" run starting at t."""
        best = t
        for pre in range(0, 3):
            head = text[t:t + pre]
            if len(head) < pre or not re.fullmatch(r"[" + CJK + r"]*", head) or any(c in _FUNC_CHARS for c in head) \
                    or text.startswith(_NOT_NAME_PREFIX, t):
                break
            for w in words:
                if text.startswith(w, t + pre):
                    end = t + pre + len(w)
                    # more business words may follow (模具|厂, 五金制品|有限公司)
                    grown = True
                    while grown:
                        grown = False
                        for w2 in words:
                            if text.startswith(w2, end):
                                end += len(w2)
                                grown = True
                                break
                    if end < len(text) and text[end] in _NOT_AFTER_BUSINESS:
                        continue
                    best = max(best, end)
        return best

    def _employer(self, text: str, e: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        s, t = e["start"], e["end"]
        # no leading 的 / 在 / 一个 / 那家: 的|美思家纺, 一个|钢构厂
        lead = re.match(r"^(?:[一两几这那哪某每][个家间座所]|[的在是给从跟和与])+", text[s:t])
        if lead and t - s - lead.end() >= 2 and text[s:t] not in self.employers:
            s += lead.end()
        span = text[s:t]
        possessive = len(span) >= 3 and span.endswith("的")  # 张老板的 (not the brand 美的)
        if possessive:
            t = self._extend_business(text, t, _AFTER_POSSESSIVE)
        elif not any(span.endswith(w) for w in _BUSINESS_WORDS):
            t = self._extend_business(text, t, _BUSINESS_WORDS)
        # more business words right after: 通达运输|公司
        grown = True
        while grown:
            grown = False
            for w in _BUSINESS_WORDS:
                if text.startswith(w, t) and not (t + len(w) < len(text) and text[t + len(w)] in _NOT_AFTER_BUSINESS):
                    t += len(w)
                    grown = True
                    break
        span = text[s:t]
        if len(span) >= 3 and span.endswith("的"):
            return None
        # a bare business word takes the name right before it: 维也纳|酒店
        if _GENERIC_EMPLOYER.match(span):
            name = _word_before(text, s)
            if name and len(name) >= 2 and name not in _NOT_NAME and not self._is_place(name) \
                    and not re.fullmatch("[一二两三四五六七八九十几0-9]+[个家名位间座]?", name):
                s -= len(name)
            else:
                return None
        span = text[s:t]
        if span in _NOT_EMPLOYER or self._is_place(span) or len(span) < 2 or set(span) & _NOT_IN_NAME \
                or re.fullmatch(r"[" + CJK + r"]{1,3}[省县区镇乡村]", span):
            return None
        # "一家钢构厂", "这个厂": a short workplace word counted or pointed at, not a name
        if len(span) <= 3 and any(span.endswith(w) for w in _BUSINESS_WORDS) \
                and re.search(r"[一两几这那哪某每][个家间座所]$", text[max(0, s - 2):s]):
            return None
        # a common word (登记, 办公室, 车间) that is no known employer and has no business word
        if span not in self.employers and not any(span.endswith(w) for w in _BUSINESS_WORDS) \
                and _word_frequency(span) >= 500:
            return None
        return _ent(e, text, s, t)

    # ------------------------------------------------------------ all
    def repair(self, text: str, entities: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
        fixers = {"amount": self._amount, "headcount": self._headcount,
                  "hometown": self._hometown, "employer": self._employer}
        out: List[Dict[str, Any]] = []
        for e in sorted(entities, key=lambda x: (x["start"], x["end"])):
            fix = fixers.get(e.get("entity"))
            new = fix(text, e) if fix else dict(e)
            if new is None:
                continue
            # merge with an overlapping / adjacent span of the same type (江西|赣州, 3万|6)
            if fix and out and out[-1]["entity"] == new["entity"] and new["start"] <= out[-1]["end"]:
                prev = out.pop()
                merged = _ent(prev, text, min(prev["start"], new["start"]), max(prev["end"], new["end"]))
                new = fix(text, merged) or merged
            out.append(new)
        # spans must not overlap (a widened span wins over what it swallowed; else the longer)
        out.sort(key=lambda x: (x["start"], -(x["end"] - x["start"])))
        kept: List[Dict[str, Any]] = []
        for e in out:
            if kept and e["start"] < kept[-1]["end"]:
                last = kept[-1]
                if (e["end"] - e["start"], bool(e.get("_changed"))) > (last["end"] - last["start"], bool(last.get("_changed"))):
                    kept[-1] = e
                continue
            kept.append(e)
        return kept
