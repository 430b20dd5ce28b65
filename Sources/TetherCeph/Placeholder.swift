// Placeholder: the cluster registry arrives with issue #3.
