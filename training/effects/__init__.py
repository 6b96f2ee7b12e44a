"""Effects of CS plays, estimated from the play runs recorded in ``activities.play``.

- ``nuisance``: the cross-fitted propensity and outcome models (LightGBM, folds by account);
- ``estimate``: the doubly-robust effect on the treated (ATT) and on all rows (ATE) with
  influence-function intervals clustered by account, overlap trimming and the evidence rules;
- ``uplift``: the per-account effect (a DR-learner) and the two-model baseline it is
  measured against;
- ``treatment``: which feature-table rows a play run treats (pure);
- ``fit``: every play and label of a feature table, the effects table and the uplift models;
- ``runs`` (I/O): the play runs of a source; ``publish``: the MLflow run and registration.
"""
