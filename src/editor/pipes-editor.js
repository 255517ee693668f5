/*
 * Editor code shared by every node of @pipes.bot/node-red. Node-RED serves this package's
 * resources/ folder at resources/@pipes.bot/node-red/; each node's .html loads this file (and
 * pipes-constants.js, generated from src/lib at build time, before it) with a <script src>, which
 * the editor runs before the node's own script. Loaded once: a second <script> tag finds it ready.
 *
 * It knows nothing about a particular node: validators, typedInput set-up, labels.
 */
(function () {
    "use strict";
    const editor = (window.PipesEditor = window.PipesEditor || {});
    if (editor.ready) {
        return;
    }
    const constants = editor.constants || {};

    /** The typedInput types our fields accept. */
    editor.FIELD_TYPES = ["msg", "flow", "global", "str", "env"];

    /** A translator for one node set: t("errors.x") reads "@pipes.bot/node-red/<set>:<set>.errors.x". */
    editor.translator = function (set) {
        const ns = "@pipes.bot/node-red/" + set;
        return function (key, opts) {
            return RED._(ns + ":" + set + "." + key, opts);
        };
    };

    /**
     * A typedInput value with its type field. Blank is allowed where an empty field means "from
     * msg.pipes" or "none"; a missing value (a flow written by hand or by an older version) is
     * valid: the runtime uses its default.
     */
    editor.typedValidator = function (t, typeField, allowBlank, errorKey) {
        return function (v, opt) {
            const type = $("#node-input-" + typeField).val() || this[typeField] || "str";
            if (v === undefined) {
                return true;
            }
            if (v === null || String(v) === "") {
                return allowBlank ? true : opt ? t(errorKey) : false;
            }
            if (editor.FIELD_TYPES.indexOf(type) === -1) {
                return opt ? t("errors.type") : false;
            }
            const result = RED.utils.validateTypedProperty(v, type, opt);
            return result === true ? true : opt ? result : false;
        };
    };

    /**
     * A numeric setting checked against the runtime's rule (src/lib/settings.ts, through
     * pipes-constants.js) and the stricter bounds the editor asks of a person. Empty or missing:
     * the runtime uses its default.
     */
    editor.numberValidator = function (t, setting, errorKey) {
        const rule = editor.rule(setting);
        return function (v, opt) {
            if (v === undefined || String(v).trim() === "") {
                return true;
            }
            const n = Number(v);
            const ok =
                isFinite(n) &&
                (rule.minExclusive ? n > rule.min : n >= rule.min) &&
                n <= rule.max &&
                (!rule.integer || /^\s*\d+\s*$/.test(String(v)));
            return ok ? true : opt ? t(errorKey) : false;
        };
    };

    /** The rule of a numeric setting as the editor applies it (runtime rule + editor bounds). */
    editor.rule = function (setting) {
        const base = (constants.numberSettings || {})[setting];
        if (!base) {
            throw new Error("unknown setting " + setting);
        }
        const strict = base.editor || {};
        return {
            min: strict.min !== undefined ? strict.min : base.min,
            minExclusive: strict.min !== undefined ? false : Boolean(base.minExclusive),
            max: strict.max !== undefined ? strict.max : base.max,
            integer: Boolean(strict.integer || base.integer),
            fallback: base.fallback
        };
    };

    /** A jQuery UI spinner bounded like the setting. */
    editor.spinner = function (selector, setting) {
        const rule = editor.rule(setting);
        $(selector).spinner({ min: rule.integer || rule.min >= 1 ? Math.max(rule.min, 1) : rule.min, max: rule.max });
    };

    /** Turns `#node-input-<name>` into a typedInput of our types, its type kept in `#node-input-<name>Type`. */
    editor.typedInputs = function (defaultsByField) {
        Object.keys(defaultsByField).forEach(function (field) {
            $("#node-input-" + field).typedInput({
                default: defaultsByField[field],
                typeField: $("#node-input-" + field + "Type"),
                types: editor.FIELD_TYPES
            });
        });
    };

    /** How a typedInput value reads in a node label: "abc", "${NAME}", "flow.x". */
    editor.describe = function (value, type) {
        if (type === "str" || !type) {
            return value;
        }
        if (type === "env") {
            return "${" + value + "}";
        }
        return type + "." + value;
    };

    editor.ready = true;
})();
