"""The Dagster layer: partitions, resources, assets, checks and jobs wired around the pure core."""
