"""The running part of the conformance suite: a virtual cluster of the REC, the PMIx levels of the
REC × APP pair, and the workloads with their sanity and reference checks (`recapp conformance`)."""
