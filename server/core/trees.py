"""Trees of org units and of sites: a parent may never close a cycle."""

from __future__ import annotations

from server.core.errors import InvalidInput


def check_tree_parent(
    node_id: int | None, new_parent: int | None, parents: dict[int, int | None]
) -> None:
    """Refuse a parent that would make a cycle in a tree (org units, sites).

    ``parents`` maps every node id to its parent id.
    """
    if new_parent is None:
        return
    if new_parent not in parents:
        raise InvalidInput("tree.unknown_parent", f"Parent {new_parent} does not exist.")
    seen: set[int] = set()
    current: int | None = new_parent
    while current is not None:
        if current == node_id or current in seen:
            raise InvalidInput(
                "tree.cycle", "This parent would make a cycle; pick a node outside this subtree."
            )
        seen.add(current)
        current = parents.get(current)


def subtree(root: int, parents: dict[int, int | None]) -> set[int]:
    """``root`` and every node below it (a unit with its sub-units, a site with its rooms)."""
    children: dict[int, list[int]] = {}
    for node, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)
    found = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:  # a damaged table with a cycle still ends
                found.add(child)
                todo.append(child)
    return found
