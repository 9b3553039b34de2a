#!/usr/bin/env python3
"""Writes N users as JSON Lines for `portcullis users import`: varied names, a tenth with
usernames, one shared bcrypt hash (of "correct horse battery staple"). Deterministic.

    bench/users.py 1000000 > users.jsonl
"""

import json
import random
import sys

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
         "Dennis", "Radia", "Linus", "Leslie", "Hedy", "John", "Katherine", "Tim", "Shafi"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Hamilton", "Ritchie", "Perlman", "Torvalds", "Lamport", "Lamarr", "McCarthy",
        "Johnson", "Berners-Lee", "Goldwasser"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example"]
HASH = "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS"


def main():
    count = int(sys.argv[1])
    rng = random.Random(7)
    out = sys.stdout
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        user = {
            "email": f"{first.lower()}.{last.lower()}.{i}@{rng.choice(DOMAINS)}",
            "name": f"{first} {last}",
            "email_verified": rng.random() < 0.8,
            "created_at": f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T12:00:00Z",
            "password_hash": HASH,
        }
        if i % 10 == 0:
            user["username"] = f"{first.lower()}{i}"
        out.write(json.dumps(user, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
