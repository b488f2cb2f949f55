"""History compaction: keep an instance's size bounded however long a case runs.

SpiffWorkflow keeps every finished task in the instance's tree, and walks the whole tree on every
step: a case that loops every quarter for years would grow without end and slow down
with it. The audit trail already records what happened, so the engine drops the finished history
*above* the point where a workflow's live tasks branch off: a chain of finished tasks (and any
finished side branches hanging off it) between the tree's root and the first task that is
unfinished, is the last task run, or has more than one child with live tasks below it. Nothing a
live task, a join or a boundary event can still look at is removed: joins waiting on a branch keep
that branch live, so the cut stops above their split.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def compact(workflow: BpmnWorkflow) -> int:
    """Drop finished history from the workflow and its subprocesses; return how many tasks went."""
    dropped = _compact_tree(workflow, workflow)
    for subprocess in list(workflow.subprocesses.values()):
        if subprocess in workflow.subprocesses.values():  # not deleted with a dropped call activity
            dropped += _compact_tree(workflow, subprocess)
    return dropped


def _live_tasks(tree: Any) -> set[Any]:
    """Ids of every unfinished task and of all its ancestors."""
    live: set[Any] = set()
    for task in tree.tasks.values():
        if task.has_state(TaskState.FINISHED_MASK):
            continue
        node = task
        while node is not None and node.id not in live:
            live.add(node.id)
            node = node.parent
    return live


def _compact_tree(top: BpmnWorkflow, tree: Any) -> int:
    root = tree.task_tree
    live = _live_tasks(tree)
    chain = []
    node = root
    while True:
        live_children = [child for child in node.children if child.id in live]
        if (not node.has_state(TaskState.FINISHED_MASK) or len(live_children) != 1
                or node is tree.last_task):
            break
        chain.append(node)
        node = live_children[0]
    if len(chain) < 2:  # nothing between the root and the live part
        return 0

    keep, doomed = node, []
    for ancestor in chain:
        for child in ancestor.children:
            if child is not keep and child not in chain:
                doomed.extend(_subtree(child))
    doomed.extend(chain[1:])
    for task in doomed:
        if task.id in top.subprocesses:
            top.delete_subprocess(task)
    for task in doomed:
        tree.tasks.pop(task.id, None)
    root.children = [keep]
    keep.parent = root
    return len(doomed)


def _subtree(task: Any) -> list[Any]:
    found, stack = [], [task]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found
