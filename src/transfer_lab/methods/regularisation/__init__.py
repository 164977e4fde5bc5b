"""Regularisation methods of Deep Learning ch. 7 (second half): tangent distance, tangent
propagation and the manifold tangent classifier, adversarial examples and training,
dropout (weight scaling vs Monte-Carlo inference) and bagging, parameter tying to a
pretrained model (L2-SP) and sparse representations (an L1 penalty on activations).

One module per idea; the pipeline ``regularisation`` runs them through :mod:`.protocol`.
"""
