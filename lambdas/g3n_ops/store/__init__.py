"""Data access for the OPS table (single-table design; hash key ``pk``).

Items and their keys:
  secret                 scrypt hash of the secret code
  maintenance#state      the one small item the guard reads (attribute ``value``, JSON)
  maintenance#<id>       a maintenance record          (kind=maintenance, listed by kind-index)
  vacuum#mutex           owner vacuum id + lease expiry
  vacuum#<id>            a vacuum record               (kind=vacuum)
  audit#vacuum#<id>#<n>  vacuum audit entries          (kind=audit#vacuum#<id>)
  idempotency entries    written by Powertools idempotency (pk = <function>#<hash>)
"""
