-- compose.yaml's PostgreSQL: one database per component, made when its volume is new.
CREATE DATABASE ebok_auth;
CREATE DATABASE ebok_billing;
CREATE DATABASE ebok_readings;
CREATE DATABASE ebok_correspondence;
CREATE DATABASE ebok_notifier;
CREATE DATABASE ebok_gateway;
