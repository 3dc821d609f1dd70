"""The reports room: result records (one JSON schema) rendered as tables, matrices, HTML and JUnit.

It reads records only; it imports neither the builder nor the k8s room.
"""
