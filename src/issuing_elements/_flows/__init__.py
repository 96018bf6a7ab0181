"""The flows: each operation of the issuer, written once as a generator.

A flow takes the issuer's `Settings` and
one request, makes every decision itself, and yields only where it must
wait (``_driver``). One module per door:

- ``keys``: the web endpoint and ``issue`` (a nonce traded for a key);
- ``revocation``: ``revoke``, ``revoke_user`` and ``revoke_card``, and the
  revocation of keys that were issued but could not be handed out;
- ``steps``: what every flow does the same way (admit, count, authorize,
  audit, call Stripe).
"""
