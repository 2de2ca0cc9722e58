"""The AMPECO webhook bridge: the package shipped in the Lambda layer."""
