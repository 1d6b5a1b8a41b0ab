"""Distance functions between batches of vectors (torch.nn.functional's names); written once in
`graphflow.ops.distance`."""

from graphflow.ops.distance import cosine_similarity, pairwise_distance

__all__ = ["cosine_similarity", "pairwise_distance"]
