-- Books this node's operator agreed to receive from a partner node, with the partner's PeerId
-- and the addresses from the invite. The node keeps syncing each with its partner.
CREATE TABLE partners (
    book TEXT NOT NULL,
    peer TEXT NOT NULL,
    addrs TEXT NOT NULL,
    accepted_ms INTEGER NOT NULL,
    PRIMARY KEY (book, peer)
);
