"""The ``combined`` pipeline, a modular pipeline under the ``combined`` namespace::

    base_dataset, split_table, pretrained_encoders ─► select ─► selection ─► select_student ─► student_selection, students
                                                                   │                                   │
                                                                   └──────────────► train ◄────────────┘
                                                                                      ├─► combined_results
                                                                                      └─► stages ─► ablate ─► ablation ─► report ─► ablation_plot

``select`` chooses the teacher (encoder, k, pseudo-label assignment) per budget on the
validation split and writes every candidate's score (``selection``); ``select_student``
chooses the students' settings (encoder learning rate × augmentation strength) per budget
on the validation split the same way (``student_selection``) and keeps the chosen setting's
first-round students (``students``); ``train`` runs the chosen teacher with its students on
every budget and seed (``combined.labels``), reusing those first-round students; ``ablate`` tabulates the runs
without one ingredient (the reruns only with ``combined.ablation.enabled=true``). Tags
``combined`` and ``select`` (both selections) / ``train`` / ``ablate`` / ``report``.
"""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.combined import nodes

DATA = ["base_dataset", "split_table", "pretrained_encoders"]
LABELS, RUNTIME, DATA_PARAMS = "params:labels", "params:runtime", "params:data"
STUDENT = ["params:student", "params:training"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.select_teacher, [*DATA, LABELS, "params:selection", RUNTIME, DATA_PARAMS], "selection",
                 name="select", tags="select"),
            Node(nodes.select_student, [*DATA, "selection", LABELS, *STUDENT, RUNTIME, DATA_PARAMS],
                 ["student_selection", "students"], name="select_student", tags="select"),
            Node(nodes.train, [*DATA, "selection", "student_selection", "students", LABELS, *STUDENT, RUNTIME, DATA_PARAMS],
                 ["combined_results", "stages"], name="train", tags="train"),
            Node(nodes.ablate, [*DATA, "selection", "student_selection", "stages", LABELS, *STUDENT, "params:ablation", RUNTIME,
                                DATA_PARAMS],
                 "ablation", name="ablate", tags="ablate"),
            Node(nodes.report, ["combined_results", "ablation"], "ablation_plot", name="report", tags="report"),
        ],
        namespace="combined",
        inputs=set(DATA),
        outputs={"combined_results"},
        parameters={DATA_PARAMS: "params:data", **{p: f"params:combined.{p.split(':')[1]}" for p in
                    [LABELS, RUNTIME, *STUDENT, "params:selection", "params:ablation"]}},
        tags="combined",
    )
