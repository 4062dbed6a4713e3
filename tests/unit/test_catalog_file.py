import json

import pytest

from shared.catalog_file import read_rows
from shared.runtime.errors import UserError


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_jsonl_rows_become_changes_and_bad_rows_carry_their_line(tmp_path):
    p = write(
        tmp_path,
        "c.jsonl",
        '{"item_id":"a","store_id":"s","name":"Tacos","price":9.5,"tags":["spicy"]}\n'
        "\n"
        "not json\n"
        '{"item_id":"b","store_id":"s","price":-2}\n'
        '{"item_id":"c","store_id":"s","name":"Soup","price":4,"version":7,"trace_id":"t-1"}\n'
        "[1,2]\n",
    )
    rows = list(read_rows(p, version=100))
    assert [r.line for r in rows] == [1, 3, 4, 5, 6]
    ok = {r.change.item_id: r.change for r in rows if r.change}
    assert set(ok) == {"a", "c"}
    assert ok["a"].version == 100 and ok["a"].op == "upsert" and ok["a"].item.tags == ["spicy"]
    assert ok["c"].version == 7 and ok["c"].trace_id == "t-1" and ok["c"].source == "c.jsonl:5"
    errors = {r.line: r.error for r in rows if r.error}
    assert errors[3].startswith("not JSON")
    assert "item.name: Field required" in errors[4] and "item.price" in errors[4]
    assert "expected an object" in errors[6]
    assert all("\n" not in e for e in errors.values())


def test_csv_rows_with_tags_attributes_and_empty_cells(tmp_path):
    p = write(
        tmp_path,
        "c.csv",
        "item_id,store_id,name,price,tags,attributes.brand,available,description\n"
        "g1,st,Oat Milk,3.99,vegan|dairy-free,Oatly,true,\n"
        "g2,st,,2.00,,,,\n"
        'g3,st,"Chips, salted",1.50,snack,,no,"crisp, thin"\n',
    )
    rows = list(read_rows(p, version=1))
    assert [r.line for r in rows] == [2, 3, 4]
    g1, g2, g3 = rows
    assert g1.change.item.tags == ["vegan", "dairy-free"] and g1.change.item.attributes == {"brand": "Oatly"}
    assert g1.change.item.description == ""
    assert g2.change is None and "item.name" in g2.error
    assert g3.change.item.name == "Chips, salted" and g3.change.item.available is False


def test_delete_needs_only_the_item_id(tmp_path):
    p = write(tmp_path, "d.jsonl", json.dumps({"item_id": "a"}) + "\n" + json.dumps({"name": "x"}) + "\n")
    rows = list(read_rows(p, delete=True, version=5))
    assert rows[0].change.op == "delete" and rows[0].change.item is None and rows[0].change.version == 5
    assert rows[1].change is None and "item_id" in rows[1].error


def test_missing_file_and_unknown_format_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        list(read_rows(tmp_path / "nope.jsonl"))
    with pytest.raises(UserError, match="unknown format"):
        list(read_rows(write(tmp_path, "x.xml", "<a/>")))
    with pytest.raises(UserError, match="item_id"):
        list(read_rows(write(tmp_path, "x.csv", "name,price\na,1\n")))
