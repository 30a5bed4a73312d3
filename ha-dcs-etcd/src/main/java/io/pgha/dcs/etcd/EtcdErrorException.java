package io.pgha.dcs.etcd;

import io.pgha.core.spi.DcsUnavailableException;

/**
 * etcd answered, with an error (permission denied, lease not found, no leader...). Still a
 * {@link DcsUnavailableException} for the HA loop: the call did not do what it was asked. The adapter catches the
 * few errors it can act on (a lost lease) by their {@link #error() code}.
 */
final class EtcdErrorException extends DcsUnavailableException {

    private static final long serialVersionUID = 1L;

    private final transient EtcdJson.Error error;

    EtcdErrorException(String message, EtcdJson.Error error) {
        super(message);
        this.error = error;
    }

    EtcdJson.Error error() {
        return error;
    }
}
