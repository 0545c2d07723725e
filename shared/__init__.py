"""The package every Lambda of the payments service shares (deployed as the SharedLayer)."""
