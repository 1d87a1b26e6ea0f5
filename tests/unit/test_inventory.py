from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackyard.config.inventory import (
    MAX_RANGE_HOSTS,
    Host,
    Inventory,
    load_inventory,
    parse_inventory,
    validate_addresses,
)
from stackyard.errors import ConfigError

SRC = "multinode"

MULTINODE = """\
# three machines
[control]
node1 ansible_host=10.0.0.11 ansible_user=root
node2   ansible_host=10.0.0.12  # the second one

[network]
node1

[compute]
node3 ansible_host=10.0.0.13 ansible_become=true

[deployment]
localhost ansible_connection=local

[keystone:children]
control

[toolbox:children]
control
network
compute

[all:vars]
ansible_python_interpreter=/usr/bin/python3

[control:vars]
ansible_user = admin
motd="hello world"
"""


def parse(text: str) -> Inventory:
    return parse_inventory(text, SRC)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return str(info.value)


# --- hosts and groups ----------------------------------------------------------------------


def test_multinode_hosts_groups_and_vars() -> None:
    inventory = parse(MULTINODE)
    assert list(inventory.hosts) == ["node1", "node2", "node3", "localhost"]
    assert inventory.hosts["node1"].vars == {"ansible_host": "10.0.0.11", "ansible_user": "root"}
    assert inventory.hosts["node2"].vars == {"ansible_host": "10.0.0.12"}
    assert inventory.hosts["node1"].line == 3
    assert inventory.hosts["localhost"].line == 13
    assert inventory.groups["control"] == {"node1", "node2"}
    assert inventory.groups["network"] == {"node1"}
    assert inventory.groups["keystone"] == {"node1", "node2"}
    assert inventory.groups["toolbox"] == {"node1", "node2", "node3"}
    assert inventory.groups["all"] == {"node1", "node2", "node3", "localhost"}
    assert inventory.groups["ungrouped"] == frozenset()
    assert list(inventory.groups) == [
        "all",
        "ungrouped",
        "control",
        "network",
        "compute",
        "deployment",
        "keystone",
        "toolbox",
    ]
    assert inventory.group_vars == {
        "all": {"ansible_python_interpreter": "/usr/bin/python3"},
        "control": {"ansible_user": "admin", "motd": "hello world"},
    }
    assert inventory.source == SRC


def test_host_groups_include_groups_reached_through_children() -> None:
    inventory = parse(MULTINODE)
    assert inventory.hosts["node1"].groups == {
        "all",
        "control",
        "network",
        "keystone",
        "toolbox",
    }
    assert inventory.hosts["localhost"].groups == {"all", "deployment"}
    for name, host in inventory.hosts.items():
        assert host.groups == {g for g, members in inventory.groups.items() if name in members}


def test_hosts_in_follows_inventory_order() -> None:
    inventory = parse("[b]\nz\n[a]\ny\nx\n[both:children]\na\nb\n")
    assert inventory.hosts_in("both") == ["z", "y", "x"]
    assert inventory.hosts_in("a") == ["y", "x"]
    assert inventory.hosts_in("ungrouped") == []


def test_hosts_in_unknown_group_lists_known_groups() -> None:
    inventory = parse("[control]\nnode1\n[keystone:children]\ncontrol\n")
    with pytest.raises(ConfigError) as info:
        inventory.hosts_in("keystnoe")
    assert str(info.value) == (
        f"{SRC}: no group named `keystnoe`; known groups: all, ungrouped, control, keystone"
    )


def test_host_in_several_groups_merges_vars_later_wins() -> None:
    text = (
        "[control]\nnode1 a=1 b=1\n"
        "[compute]\nnode1 b=2 c=2\n"
        "[network]\nnode1 c=3 c=4\n"
        "[storage]\nnode1\n"
    )
    host = parse(text).hosts["node1"]
    assert host.vars == {"a": "1", "b": "2", "c": "4"}
    assert host.line == 2
    assert host.groups == {"all", "control", "compute", "network", "storage"}


def test_empty_group_and_group_listed_twice() -> None:
    inventory = parse("[storage]\n[control]\na\n[storage]\nb\n[control]\nc\na\n")
    assert inventory.groups["storage"] == {"b"}
    assert inventory.hosts_in("control") == ["a", "c"]
    assert list(inventory.groups) == ["all", "ungrouped", "storage", "control"]
    assert parse("[monitoring]\n").groups["monitoring"] == frozenset()


def test_hosts_before_any_header_are_ungrouped() -> None:
    inventory = parse("lonely ansible_host=192.0.2.1\n[control]\nnode1\n[all]\nother\n")
    assert inventory.groups["ungrouped"] == {"lonely", "other"}
    assert inventory.hosts["lonely"].groups == {"all", "ungrouped"}
    assert inventory.hosts["node1"].groups == {"all", "control"}


def test_comments_blank_lines_and_indentation() -> None:
    text = "; header\n  # note\n\n  [control]  # role\n   node1   a=1   # trailing\n\n"
    inventory = parse(text)
    assert inventory.hosts["node1"].vars == {"a": "1"}
    assert inventory.groups["control"] == {"node1"}


def test_quoted_values_and_escapes() -> None:
    text = (
        "[control]\n"
        'node1 greeting="hello world" single=\'a "b" c\' '
        'esc="say \\"hi\\" \\\\ \\n" mixed=pre"fix x"post hash="#1" eq=a=b empty=\n'
    )
    values = parse(text).hosts["node1"].vars
    assert values == {
        "greeting": "hello world",
        "single": 'a "b" c',
        "esc": 'say "hi" \\ \\n',
        "mixed": "prefix xpost",
        "hash": "#1",
        "eq": "a=b",
        "empty": "",
    }


def test_group_vars_values() -> None:
    text = "[g]\n[g:vars]\na=1\nb = two words\nc='quoted # not a comment'\nd=\ne=x=y\na=9\n"
    assert parse(text).group_vars["g"] == {
        "a": "9",
        "b": "two words",
        "c": "quoted # not a comment",
        "d": "",
        "e": "x=y",
    }


def test_vars_section_before_group_header_is_fine() -> None:
    inventory = parse("[web:vars]\nport=80\n[web]\nw1\n")
    assert inventory.group_vars == {"web": {"port": "80"}}
    assert inventory.groups["web"] == {"w1"}


def test_port_suffix_and_ipv6() -> None:
    inventory = parse(
        "[g]\nnode1:2222 ansible_user=root\nnode2:22 ansible_port=2200\n::1\nfe80::2\n"
    )
    assert inventory.hosts["node1"].vars == {"ansible_port": "2222", "ansible_user": "root"}
    assert inventory.hosts["node2"].vars == {"ansible_port": "2200"}
    assert list(inventory.hosts) == ["node1", "node2", "::1", "fe80::2"]
    assert inventory.hosts["fe80::2"].address == "fe80::2"


# --- ranges --------------------------------------------------------------------------------


def test_ranges_expand_with_padding_as_written() -> None:
    inventory = parse("[compute]\nnode[01:03] ansible_user=root\nrack[8:10]\n")
    assert list(inventory.hosts) == ["node01", "node02", "node03", "rack8", "rack9", "rack10"]
    assert all(inventory.hosts[f"node0{i}"].vars == {"ansible_user": "root"} for i in (1, 2, 3))
    assert inventory.hosts["node03"].line == 2


def test_ranges_with_step_suffix_several_and_port() -> None:
    inventory = parse("[g]\nn[0:4:2].lab\nr[1:2]-s[01:02]:2200\nw[098:100]\n")
    assert list(inventory.hosts) == [
        "n0.lab",
        "n2.lab",
        "n4.lab",
        "r1-s01",
        "r1-s02",
        "r2-s01",
        "r2-s02",
        "w098",
        "w099",
        "w100",
    ]
    assert inventory.hosts["r2-s02"].vars == {"ansible_port": "2200"}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("node[a:c]", ["`[a:c]`", "not numeric", "node[01:03]"]),
        ("node[1-3]", ["`[1-3]`", "not numeric"]),
        ("node[1:2:3:4]", ["not numeric"]),
        ("node[3:1]", ["`[3:1]`", "is empty"]),
        ("node[1:3:0]", ["is empty", "STEP"]),
        ("node[01:03", ["unbalanced bracket", "`node[01:03`"]),
        ("node]1", ["unbalanced bracket"]),
        ("node[1:100000]", ["expands to 100000 hosts", f"at most {MAX_RANGE_HOSTS}"]),
        ("a[1:200]b[1:200]", ["expands to 40000 hosts"]),
    ],
)
def test_bad_ranges(line: str, words: list[str]) -> None:
    message = error(f"[g]\n{line}\n")
    assert message.startswith(f"{SRC}:2: ")
    for word in words:
        assert word in message


# --- children ------------------------------------------------------------------------------


def test_children_resolve_recursively_in_any_order() -> None:
    text = (
        "[top:children]\nmiddle\nother\n"
        "[middle:children]\nleaf\n"
        "[leaf]\nh1\n"
        "[other]\nh2\n"
        "[middle]\nh3\n"
    )
    inventory = parse(text)
    assert inventory.groups["leaf"] == {"h1"}
    assert inventory.groups["middle"] == {"h1", "h3"}
    assert inventory.groups["top"] == {"h1", "h2", "h3"}
    assert inventory.hosts["h1"].groups == {"all", "leaf", "middle", "top"}


def test_diamond_children_are_not_a_cycle() -> None:
    text = "[a:children]\nb\nc\n[b:children]\nd\n[c:children]\nd\n[d]\nx\n"
    assert parse(text).groups["a"] == {"x"}


def test_all_children_are_allowed() -> None:
    inventory = parse("[all:children]\ncontrol\n[control]\nn1\n")
    assert inventory.groups["all"] == {"n1"}
    assert list(inventory.groups) == ["all", "ungrouped", "control"]


@pytest.mark.parametrize(
    ("text", "prefix", "words"),
    [
        (
            "[control]\nn1\n[keystone:children]\ncontrol\ncontorl\n",
            f"{SRC}:5:",
            [
                "`[keystone:children]`",
                "`contorl`",
                "never defined",
                "defined groups: all, ungrouped, control, keystone",
            ],
        ),
        (
            "[control:vars]\na=1\n[contorl]\nn1\n",
            f"{SRC}:1:",
            ["`[control:vars]`", "`control`", "never defined", "defined groups:", "contorl"],
        ),
        (
            "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
            f"{SRC}:6:",
            ["`[c:children]`", "cycle: a -> b -> c -> a", "cannot contain itself"],
        ),
        ("[x]\nh\n[a:children]\nx\na\n", f"{SRC}:5:", ["cycle: a -> a"]),
        (
            "[a:children]\nb\n[b:children]\nc\n[c:children]\nb\n",
            f"{SRC}:6:",
            ["cycle: b -> c -> b"],
        ),
        ("[a:children]\nall\n", f"{SRC}:2:", ["`all` is an implicit group", "`a`"]),
        ("[a:children]\nungrouped\n", f"{SRC}:2:", ["`ungrouped` is an implicit group"]),
        ("[a:children]\nb c\n", f"{SRC}:2:", ["`b c`", "one group name per line"]),
        ("[a:children]\n''\n", f"{SRC}:2:", ["one group name per line"]),
    ],
)
def test_children_errors(text: str, prefix: str, words: list[str]) -> None:
    message = error(text)
    assert message.startswith(prefix + " ")
    for word in words:
        assert word in message


# --- syntax errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prefix", "words"),
    [
        (
            "[web:foo]\n",
            f"{SRC}:1:",
            ["unknown section suffix `:foo`", "[web:children]", "[web:vars]"],
        ),
        ("\n[web:]\n", f"{SRC}:2:", ["unknown section suffix `:`"]),
        ("[web\n", f"{SRC}:1:", ["`[web`", "not closed"]),
        ("[]\n", f"{SRC}:1:", ["empty group name"]),
        ("[:vars]\n", f"{SRC}:1:", ["empty group name"]),
        ("[my group]\n", f"{SRC}:1:", ["`my group`", "whitespace"]),
        ("[web] extra\n", f"{SRC}:1:", ["unexpected `extra`", "comment"]),
        (
            "[g]\nnode1 ansible_user\n",
            f"{SRC}:2:",
            ["malformed variable `ansible_user`", "key=value"],
        ),
        ("[g]\nnode1 =root\n", f"{SRC}:2:", ["malformed variable `=root`", "not a variable name"]),
        ("[g]\nnode1 1x=2\n", f"{SRC}:2:", ["malformed variable `1x=2`", "`1x`"]),
        ("[g]\nnode1 a-b=2\n", f"{SRC}:2:", ["`a-b`", "not a variable name"]),
        ('[g]\nnode1 a="open\n', f"{SRC}:2:", ['unbalanced quote (")', "close every quote"]),
        ("[g]\nnode1 a='open\n", f"{SRC}:2:", ["unbalanced quote (')"]),
        ('[g]\nnode1 a="x\\"\n', f"{SRC}:2:", ["unbalanced quote"]),
        ("[g]\na=1 node1\n", f"{SRC}:2:", ["starts with a host name, not `a=1`"]),
        ("[g]\n'' a=1\n", f"{SRC}:2:", ["host name ``", "empty"]),
        ("[g]\n'a b'\n", f"{SRC}:2:", ["host name `a b`", "whitespace"]),
        ("[g]\n:22\n", f"{SRC}:2:", ["host name ``"]),
        ("[g]\nnode1:ssh\n", f"{SRC}:2:", ["`ssh` after `:` is not a port number"]),
        ("[g]\nnode1:70000\n", f"{SRC}:2:", ["`70000`", "1-65535", "ansible_port"]),
        ("[g]\nnode1:\n", f"{SRC}:2:", ["`` after `:` is not a port"]),
        ("[g]\n[g:vars]\n\nnovalue\n", f"{SRC}:4:", ["`novalue` in `[g:vars]` has no `=`"]),
        ("[g]\n[g:vars]\n= 1\n", f"{SRC}:3:", ["malformed variable `= 1`", "``"]),
        ("[g]\n[g:vars]\nmy key = 1\n", f"{SRC}:3:", ["`my key`", "not a variable name"]),
        ('[g]\n[g:vars]\na="open\n', f"{SRC}:3:", ['unbalanced quote (")', "same quote"]),
        ('[g]\n[g:vars]\na="x" # note\n', f"{SRC}:3:", ["unbalanced quote"]),
        ("[g]\n[g:vars]\na='\n", f"{SRC}:3:", ["unbalanced quote (')"]),
    ],
)
def test_syntax_errors(text: str, prefix: str, words: list[str]) -> None:
    message = error(text)
    assert message.startswith(prefix + " ")
    for word in words:
        assert word in message


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address", "is_local"),
    [
        (Host("node1", {"ansible_host": "10.0.0.11"}), "10.0.0.11", False),
        (Host("10.0.0.5"), "10.0.0.5", False),
        (Host("10.0.0.5", {"ansible_host": "node5.lab"}), "node5.lab", False),
        (Host("2001:db8::1"), "2001:db8::1", False),
        (Host("node1"), None, False),
        (Host("node1", {"ansible_host": ""}), None, False),
        (Host("10.0.0.256"), None, False),
        (Host("localhost"), None, True),
        (Host("127.0.0.1"), "127.0.0.1", True),
        (Host("box", {"ansible_connection": "local"}), None, True),
        (Host("box", {"ansible_connection": "ssh"}), None, False),
    ],
)
def test_address_and_is_local(host: Host, address: str | None, is_local: bool) -> None:
    assert host.address == address
    assert host.is_local is is_local


def test_validate_addresses_accepts_local_and_addressed_hosts() -> None:
    validate_addresses(parse(MULTINODE))
    validate_addresses(parse("[g]\n10.0.0.1\nlocalhost\nme ansible_connection=local\n"))


def test_validate_addresses_names_the_one_host() -> None:
    with pytest.raises(ConfigError) as info:
        validate_addresses(parse("[g]\nlocalhost\n\nnode7 ansible_user=root\n"))
    message = str(info.value)
    assert message.startswith(f"{SRC}:4: host `node7` has no address;")
    assert "ansible_host=ADDRESS" in message


def test_validate_addresses_lists_every_host() -> None:
    inventory = parse("[g]\nnode1\n10.0.0.2\nnode3 ansible_host=10.0.0.3\n[h]\nnode4\nnode1\n")
    with pytest.raises(ConfigError) as info:
        validate_addresses(inventory)
    message = str(info.value)
    assert message.startswith(
        f"{SRC}: hosts without an address: `node1` (line 2), `node4` (line 6);"
    )
    assert "ansible_host=ADDRESS" in message
    assert "node3" not in message and "10.0.0.2" not in message


# --- files ---------------------------------------------------------------------------------


def test_load_inventory(tmp_path: Path) -> None:
    path = tmp_path / "multinode"
    path.write_text(MULTINODE)
    inventory = load_inventory(path)
    assert inventory.source == str(path)
    assert inventory.hosts_in("control") == ["node1", "node2"]
    path.write_text("[web:foo]\n")
    with pytest.raises(ConfigError, match=rf"^{path}:1: unknown section suffix"):
        load_inventory(path)


def test_load_inventory_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    with pytest.raises(ConfigError, match=rf"^{path}: file does not exist$"):
        load_inventory(path)


def test_shipped_all_in_one() -> None:
    path = Path(str(resources.files("stackyard") / "data" / "inventory" / "all-in-one"))
    inventory = load_inventory(path)
    assert list(inventory.hosts) == ["localhost"]
    local = inventory.hosts["localhost"]
    assert local.vars == {"ansible_connection": "local"}
    assert local.is_local
    roles = ["control", "network", "compute", "storage", "monitoring", "deployment"]
    services = {
        "baremetal": "control",
        "mariadb": "control",
        "memcached": "control",
        "rabbitmq": "control",
        "keystone": "control",
        "glance": "control",
        "placement": "control",
        "heat": "control",
        "horizon": "control",
        "openvswitch": "network",
        "ovn-controller": "network",
        "ovn": "control",
        "neutron-server": "control",
        "neutron-ovn-metadata-agent": "compute",
        "nova": "control",
        "loadbalancer": "network",
        "haproxy": "network",
        "keepalived": "network",
        "toolbox": "control",
    }
    assert list(inventory.groups) == ["all", "ungrouped", *roles, *services]
    assert local.groups == set(inventory.groups) - {"ungrouped"}
    for group in inventory.groups:
        assert inventory.hosts_in(group) == ([] if group == "ungrouped" else ["localhost"])
    validate_addresses(inventory)
    text = path.read_text()
    assert text.startswith("#")
    for child in ("control", "network", "compute", "storage", "monitoring"):
        assert f"\n{child}\n" in text.split("[toolbox:children]")[1]
    assert "[haproxy:children]\nloadbalancer\n" in text
    assert "[loadbalancer:children]\nnetwork\n" in text


# --- properties ----------------------------------------------------------------------------

INVENTORY_BITS = st.sampled_from(
    [
        "[",
        "]",
        ":children",
        ":vars",
        "[g]",
        "[g:children]",
        "[h:vars]",
        "\n",
        "g",
        "h",
        "n[01:03]",
        "[1:",
        ":22",
        "=",
        "a=b",
        '"',
        "'",
        "\\",
        "#",
        ";",
        " ",
        "\t",
        "::1",
        "all",
        "ungrouped",
    ]
)
inventory_text = st.lists(st.one_of(INVENTORY_BITS, st.text(max_size=6)), max_size=40).map("".join)


@settings(max_examples=400, database=None)
@given(st.one_of(inventory_text, st.text()))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    try:
        inventory = parse(text)
    except ConfigError as exc:
        assert str(exc).startswith(f"{SRC}:")
        return
    assert inventory.groups["all"] == set(inventory.hosts)
    for name, host in inventory.hosts.items():
        assert host.groups == {g for g, members in inventory.groups.items() if name in members}
        assert host.address is None or isinstance(host.address, str)
    try:
        validate_addresses(inventory)
    except ConfigError as exc:
        assert str(exc).startswith(f"{SRC}:")


names = st.text("abcdefgh", min_size=1, max_size=3)


@settings(max_examples=200, database=None)
@given(st.dictionaries(names, st.lists(names, max_size=4), max_size=6))
def test_generated_children_graphs_resolve_or_name_a_cycle(graph: dict[str, list[str]]) -> None:
    leaves = {child for children in graph.values() for child in children} - set(graph)
    text = "".join(f"[{g}:children]\n" + "".join(f"{c}\n" for c in cs) for g, cs in graph.items())
    text += "".join(f"[{leaf}]\n{leaf}-host\n" for leaf in sorted(leaves))

    def reach(group: str, seen: frozenset[str]) -> set[str] | None:
        if group in seen:
            return None
        found = {f"{group}-host"} if group in leaves else set()
        for child in graph.get(group, []):
            sub = reach(child, seen | {group})
            if sub is None:
                return None
            found |= sub
        return found

    expected = {g: reach(g, frozenset()) for g in graph}
    if any(v is None for v in expected.values()):
        with pytest.raises(ConfigError, match="makes a cycle"):
            parse(text)
        return
    inventory = parse(text)
    for group, hosts in expected.items():
        assert hosts is not None
        assert inventory.groups[group] == hosts


# Valid inventories, generated as the model they should parse to: kolla-ansible's groups and
# some of its own, hosts by name with an address (ansible_host) or by IP address, a user, a
# port, group vars and children groups.
group_names = st.sampled_from(
    ["control", "network", "compute", "monitoring", "storage", "deployment", "edge", "rack1"]
)
host_names = st.text("abcdefghij0123456789", min_size=1, max_size=6).map(lambda n: f"node-{n}")
addresses = st.ip_addresses(v=4).map(str)
host_vars = st.fixed_dictionaries(
    {"ansible_host": addresses},
    optional={
        "ansible_user": st.sampled_from(["root", "kolla", "ops"]),
        "ansible_port": st.integers(1, 65535).map(str),
        "api_interface": st.sampled_from(["eth0", "ens3", "bond0"]),
    },
)


@st.composite
def valid_inventories(
    draw: st.DrawFn,
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]], dict[str, str]]:
    """(host -> vars, group -> hosts, parent group of some groups' children)."""
    hosts = draw(st.dictionaries(host_names, host_vars, min_size=1, max_size=8))
    members = {
        group: draw(st.lists(st.sampled_from(sorted(hosts)), min_size=1, max_size=4, unique=True))
        for group in draw(st.lists(group_names, min_size=1, max_size=5, unique=True))
    }
    parents = {group: f"{group}-all" for group in members if draw(st.booleans())}
    return hosts, members, parents


@settings(max_examples=200, database=None)
@given(valid_inventories())
def test_generated_valid_inventories_load_as_written(
    generated: tuple[dict[str, dict[str, str]], dict[str, list[str]], dict[str, str]],
) -> None:
    hosts, members, parents = generated
    written: set[str] = set()
    lines = []
    for group, names in members.items():
        lines.append(f"[{group}]")
        for name in names:  # a host's variables on its first line only
            shown = " ".join(f"{k}={v}" for k, v in hosts[name].items() if name not in written)
            lines.append(f"{name} {shown}".rstrip())
            written.add(name)
    for group, parent in parents.items():
        lines += [f"[{parent}:children]", group]
    inventory = parse_inventory("\n".join(lines) + "\n", SRC)
    used = {name for names in members.values() for name in names}
    assert set(inventory.hosts) == used
    assert inventory.groups["all"] == frozenset(used)
    for name in used:
        assert inventory.hosts[name].vars == hosts[name]
        assert inventory.hosts[name].address == hosts[name]["ansible_host"]
    for group, names in members.items():
        assert inventory.groups[group] == frozenset(names)
    for group, parent in parents.items():
        assert inventory.groups[parent] == frozenset(members[group])
    validate_addresses(inventory)
