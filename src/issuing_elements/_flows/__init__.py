"""The flows: each operation of the issuer, written once as a generator.

A flow takes the issuer's `Settings` and one request, makes every decision
itself, and yields a need (``_needs``) wherever it needs something from
outside; the driver (``_driver``) hands each to the performer
(``_perform``) and sends the result back. The modules, lowest first:

- ``answers``: every outcome answered and audited (``endpoint``, ``audit``);
- ``checks``: what every door checks and counts before Stripe (the twin,
  the origin and the user, the budgets, the authorizer);
- ``revocation``: ``revoke``, ``revoke_user`` and ``revoke_card``, the
  sweep of a card's keys, and the revocation of keys that were issued but
  not handed out;
- ``exchange``: the one exchange of the web, mobile and Account Session
  doors, and the ``Door`` record of what differs between them;
- ``keys``: the web and mobile doors (``WEB``, ``MOBILE``);
- ``account_sessions``: the Account Session door (``ACCOUNT_SESSION``);
- ``stripe_events``: the Stripe event door (``handle_stripe_event``).
"""
