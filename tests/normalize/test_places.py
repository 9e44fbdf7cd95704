import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import province_of
from bot.normalize._places_data import PLACES, PROVINCES


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("河南", "河南"),
        ("河南省", "河南"),
        ("周口", "河南"),
        ("周口市", "河南"),
        ("河南周口", "河南"),
        ("我是河南省周口市沈丘县的", "河南"),
        ("信阳", "河南"),
        ("固始", "河南"),
        ("贵州毕节", "贵州"),
        ("毕节", "贵州"),
        ("赣州", "江西"),
        ("江西", "江西"),
        ("阜阳", "安徽"),
        ("南充", "四川"),
        ("四川南充", "四川"),
        ("义乌", "浙江"),
        ("宁波北仑", "浙江"),
        ("内蒙古", "内蒙古"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("新疆维吾尔自治区", "新疆"),
        ("北京市", "北京"),
        ("重庆万州", "重庆"),
        ("恩施州", "湖北"),
        ("凉山彝族自治州", "四川"),
        ("黔东南", "贵州"),
        ("青海海南州", "青海"),
        ("海南", "海南"),
        ("兴安盟", "内蒙古"),
        ("大兴安岭", "黑龙江"),
        ("江西南昌", "江西"),
        ("山东东营", "山东"),
        ("廣東", "广东"),
        ("黑龍江", "黑龙江"),
        ("臺灣", "台湾"),
        ("北京朝阳", "北京"),
        ("朝阳", "辽宁"),
        ("香港", "香港"),
    ],
)
def test_province_of_place(text: str, province: str) -> None:
    assert province_of(text) == province


@pytest.mark.parametrize("text", ["", "老家", "豫", "三明治", "河南人在广东打工", "abc"])
def test_no_province(text: str) -> None:
    assert province_of(text) is None


def test_all_34_provincial_units_are_known() -> None:
    assert len(PROVINCES) == 34
    for province, forms in PROVINCES.items():
        for name in (province, *forms):
            assert province_of(name) == province


def test_each_place_belongs_to_exactly_one_known_province() -> None:
    seen: dict[str, str] = {}
    for province, names in PLACES.items():
        assert province in PROVINCES
        for name in names:
            assert seen.setdefault(name, province) == province, name
    assert len(seen) > 330


@given(st.sampled_from([(n, p) for p, names in PLACES.items() for n in names]), st.sampled_from(["", "市", "县", "的", "人"]))
def test_every_listed_place_resolves_to_its_province(place: tuple[str, str], suffix: str) -> None:
    name, province = place
    assert province_of(name + suffix) == province
    assert province_of(f"老家{province}{name}{suffix}") == province


@given(st.text())
def test_never_raises(text: str) -> None:
    province = province_of(text)
    assert province is None or province in PROVINCES
