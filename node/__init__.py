"""recapp's node programs: the launch agent, its client, the kubexec launcher and wait-nodes.

They run inside the REC (node and login pods), so this package imports only the standard library
and its own modules, always relatively: the builder installs it into the REC (see `install`), and
the rest of recapp may import it (the port, the secret path, the hostfile format), never the
other way round. Python 3.11 compatible: the bookworm source REC has 3.11.
"""
