/*
 * Editor code shared by every node of @pipes.bot/node-red. Node-RED serves this package's
 * resources/ folder at resources/@pipes.bot/node-red/; each node's .html loads this file and
 * pipes-constants.js (generated from src/lib at build time) with a <script src> each, which the
 * editor runs before the node's own script, but not always in the order written: a node type whose
 * constants have not arrived yet is registered when they do. Loaded once: a second <script> tag
 * finds it ready.
 *
 * It knows nothing about a particular node: validators, typedInput set-up, labels.
 */
(function () {
    "use strict";
    const editor = (window.PipesEditor = window.PipesEditor || {});
    if (editor.ready) {
        return;
    }
    /**
     * The constants from pipes-constants.js, read when used: the editor may run the two <script src>
     * files in either order (Node-RED 5 was seen running this one first), so nothing here may keep
     * a copy taken at load time.
     */
    function constants() {
        return editor.constants || {};
    }

    /** Called by pipes-constants.js once it has set editor.constants: registers what waited for them. */
    editor.constantsLoaded = function () {
        const waiting = editor.waiting || [];
        editor.waiting = [];
        waiting.forEach(function (register) {
            register();
        });
    };

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
        const base = (constants().numberSettings || {})[setting];
        if (!base) {
            throw new Error("unknown setting " + setting);
        }
        const strict = base.editor || {};
        return {
            min: strict.min !== undefined ? strict.min : base.min,
            minExclusive: strict.min !== undefined ? false : Boolean(base.minExclusive),
            max: strict.max !== undefined ? strict.max : base.max,
            integer: Boolean(strict.integer || base.integer),
            fallback: base.fallback,
        };
    };

    /** A jQuery UI spinner bounded like the setting. */
    editor.spinner = function (selector, setting) {
        const rule = editor.rule(setting);
        $(selector).spinner({ min: rule.integer || rule.min >= 1 ? Math.max(rule.min, 1) : rule.min, max: rule.max });
    };

    /** A receiving node's media rows: the size limit spins within its rule and shows only when media is downloaded. */
    editor.mediaRows = function (sizeRowId) {
        editor.spinner("#node-input-maxMediaMB", "maxMediaMB");
        $("#node-input-downloadMedia")
            .on("change", function () {
                $("#" + sizeRowId).toggle($(this).prop("checked"));
            })
            .trigger("change");
    };

    /** Turns `#node-input-<name>` into a typedInput of our types, its type kept in `#node-input-<name>Type`. */
    editor.typedInputs = function (defaultsByField) {
        Object.keys(defaultsByField).forEach(function (field) {
            $("#node-input-" + field).typedInput({
                default: defaultsByField[field],
                typeField: $("#node-input-" + field + "Type"),
                types: editor.FIELD_TYPES,
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

    /**
     * The definition of one of our node types for RED.nodes.registerType: the palette category and
     * colour, `name` and `connection`, the label style and output labels every node shares, plus
     * `spec`. `typed` lists typedInput fields as { field: { value, type, required: "errors.key" } }
     * (a field without `required` may be blank: "from msg.pipes" or "none"); `numbers` lists the
     * numeric settings (src/lib/settings.ts) with their error keys; `outputs: 2` adds the
     * sent / failed output labels of a sending node.
     */
    editor.nodeType = function (set, t, spec) {
        const defaults = { name: { value: "" }, connection: { value: "", type: "pipes-config", required: true } };
        Object.keys(spec.typed || {}).forEach(function (field) {
            const f = spec.typed[field];
            defaults[field] = {
                value: f.value === undefined ? "" : f.value,
                validate: editor.typedValidator(t, field + "Type", !f.required, f.required),
            };
            defaults[field + "Type"] = { value: f.type || "str" };
        });
        Object.assign(defaults, spec.defaults || {});
        Object.keys(spec.numbers || {}).forEach(function (setting) {
            defaults[setting] = {
                value: editor.rule(setting).fallback,
                validate: editor.numberValidator(t, setting, spec.numbers[setting]),
            };
        });
        const type = {
            category: "pipes.bot",
            color: "#7DDBA3",
            inputs: spec.outputs === 2 ? 1 : 0,
            outputs: 1,
            labelStyle: function () {
                return this.name ? "node_label_italic" : "";
            },
        };
        if (spec.outputs === 2) {
            type.outputLabels = function (i) {
                return [this._(set + ".outputs.sent"), this._(set + ".outputs.failed")][i];
            };
        }
        const own = Object.assign({}, spec);
        ["typed", "numbers", "defaults"].forEach(function (key) {
            delete own[key];
        });
        return Object.assign(type, own, { defaults: defaults });
    };

    /**
     * Registers one of our node types: expands its template's rows, then registers what `build(kit, t)`
     * returns (`t` translates the node's own strings), completed by nodeType() for a flow node or
     * used as it is for a config node ({ config: true }).
     */
    editor.register = function (set, build, options) {
        if (!editor.constants) {
            // pipes-constants.js has not run yet: register when it has (it calls constantsLoaded).
            (editor.waiting = editor.waiting || []).push(function () {
                editor.register(set, build, options);
            });
            return;
        }
        const config = Boolean(options && options.config);
        const t = editor.translator(set);
        editor.expandRows(set, { config: config });
        const spec = build(editor, t);
        RED.nodes.registerType(set, config ? spec : editor.nodeType(set, t, spec));
    };

    /**
     * Expands the short rows of a node's edit template into Node-RED's form rows, once, when the
     * node's .html loads (before the editor ever reads the template). A row is written as
     *
     *   <div data-row="timeout" data-icon="clock-o" data-width="short" data-unit="seconds"></div>
     *
     * and becomes the usual label (text: "<set>.label.<field>") and input (#node-input-<field>, or
     * #node-config-input-<field> for a config node). Attributes:
     *   data-icon="x"          Font Awesome icon fa-x
     *   data-typed             a typedInput: adds the hidden #...<field>Type input
     *   data-placeholder       placeholder text "<set>.placeholder.<field>"
     *   data-width="short"     a 70px input (numbers) instead of 70%
     *   data-unit="key"        a unit after the input: "<set>.label.<key>" ("MB" is shown as it is)
     *   data-options="a,b"     a <select> with options "<set>.<field>.a", ...
     *   data-password          a password input
     *   data-autocomplete="x"  the input's autocomplete attribute
     *   data-hint              a hint under the input: "<set>.hint.<field>"
     *   data-id="x"            the row's element id
     *   data-class="a b"       extra classes on the row (e.g. to show it for some choices only)
     *   data-checkbox="key"    a checkbox: the row's label reads "<set>.label.<key>", the box's text "<set>.label.<field>"
     *   data-types             the message-type filter of a receiving node (see typeFilter)
     * data-row="name" is Node-RED's own Name row. Rows that need more stay written out in full.
     */
    editor.expandRows = function (set, options) {
        const prefix = options && options.config ? "node-config-input-" : "node-input-";
        const template = $('script[data-template-name="' + set + '"]');
        const form = $("<div/>").html(template.html());
        form.find("[data-row]").each(function () {
            const spec = $(this);
            const field = spec.attr("data-row");
            const id = prefix + field;
            const isName = field === "name";
            const text = isName ? "node-red:common.label.name" : set + ".label." + field;
            const row = $("<div/>", { class: "form-row" });
            if (spec.attr("data-id")) {
                row.attr("id", spec.attr("data-id"));
            }
            if (spec.attr("data-class")) {
                row.addClass(spec.attr("data-class"));
            }
            const label = $("<label/>", { for: id }).appendTo(row);
            $("<i/>", { class: "fa fa-" + (spec.attr("data-icon") || (isName ? "tag" : "pencil")) }).appendTo(label);
            label.append(" ");
            const checkbox = spec.attr("data-checkbox");
            $("<span/>", { "data-i18n": checkbox ? set + ".label." + checkbox : text }).appendTo(label);
            row.append("\n");
            if (checkbox || spec.is("[data-types]")) {
                label.css("vertical-align", "top");
                row.append(checkbox ? checkboxOf(id, text) : typeFilterOf(set));
                spec.replaceWith(row);
                return;
            }
            let input;
            if (spec.is("[data-options]")) {
                input = $("<select/>", { id: id, style: "width: 70%;" });
                spec.attr("data-options")
                    .split(",")
                    .forEach(function (value) {
                        $("<option/>", { value: value, "data-i18n": set + "." + field + "." + value }).appendTo(input);
                    });
            } else {
                input = $("<input/>", { type: spec.is("[data-password]") ? "password" : "text", id: id });
                if (spec.attr("data-width") === "short") {
                    input.attr("style", "width: 70px;");
                } else if (spec.is("[data-typed]") || spec.is("[data-placeholder]")) {
                    input.attr("style", "width: 70%;");
                }
                if (spec.attr("data-autocomplete")) {
                    input.attr("autocomplete", spec.attr("data-autocomplete"));
                }
                if (isName) {
                    input.attr("data-i18n", "[placeholder]node-red:common.label.name");
                } else if (spec.is("[data-placeholder]")) {
                    input.attr("data-i18n", "[placeholder]" + set + ".placeholder." + field);
                }
            }
            row.append(input);
            if (spec.is("[data-typed]")) {
                row.append($("<input/>", { type: "hidden", id: id + "Type" }));
            }
            const unit = spec.attr("data-unit");
            if (unit) {
                row.append(" ").append(unit === "MB" ? $("<span/>").text("MB") : $("<span/>", { "data-i18n": set + ".label." + unit }));
            }
            if (spec.is("[data-hint]")) {
                row.append($("<div/>", { class: "pipes-hint", "data-i18n": set + ".hint." + field }));
            }
            spec.replaceWith(row);
        });
        template.text(form.html());
    };

    /**
     * An editable list of rows with a few text columns (reply buttons: id + title; list rows: id +
     * title + description), built on Node-RED's editableList. `columns` are
     * [{ key, placeholder }]; returns an object whose items() reads the rows back for oneditsave.
     */
    editor.rowsEditor = function (selector, options) {
        const container = $(selector);
        const columns = options.columns;
        const width = Math.floor(96 / columns.length) + "%";
        container.css("min-height", "120px").editableList({
            addItem: function (row, _index, data) {
                columns.forEach(function (column) {
                    $("<input/>", { type: "text", class: "pipes-rows-" + column.key, placeholder: column.placeholder || column.key })
                        .css({ width: width, marginRight: "4px" })
                        .val(data[column.key] || "")
                        .appendTo(row);
                });
            },
            removable: true,
            sortable: true,
            height: options.height || 160,
        });
        (options.items || []).forEach(function (item) {
            container.editableList("addItem", item);
        });
        return {
            items: function () {
                const rows = [];
                container.editableList("items").each(function () {
                    const row = $(this);
                    const item = {};
                    columns.forEach(function (column) {
                        const value = String(row.find(".pipes-rows-" + column.key).val() || "").trim();
                        if (value) {
                            item[column.key] = value;
                        }
                    });
                    if (Object.keys(item).length) {
                        rows.push(item);
                    }
                });
                return rows;
            },
        };
    };

    const BOX_STYLE = "display: inline-block; width: auto; vertical-align: baseline; margin: 0 4px 0 0;";

    function checkboxOf(id, text) {
        const box = $("<label/>", { for: id, style: "width: 70%;" });
        $("<input/>", { type: "checkbox", id: id, style: BOX_STYLE }).appendTo(box);
        $("<span/>", { "data-i18n": text }).appendTo(box);
        return box;
    }

    function typeFilterOf(set) {
        const container = $("<div/>", { style: "display: inline-block; width: 70%;" });
        const all = $("<label/>", { style: "width: auto;" }).appendTo($("<div/>", { style: "margin-bottom: 4px;" }).appendTo(container));
        $("<input/>", { type: "checkbox", id: "pipes-types-all", style: BOX_STYLE }).appendTo(all);
        $("<span/>", { "data-i18n": set + ".label.allTypes" }).appendTo(all);
        $("<div/>", {
            id: "pipes-types-list",
            style: "display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); column-gap: 8px;",
        }).appendTo(container);
        return container;
    }

    /**
     * The message-type filter of a receiving node (pipes-in, pipes-webhook-in): a checkbox per type
     * (constants.messageTypes) and "all". An empty list, or every type ticked, means no filter.
     */
    editor.typeFilter = {
        validator: function (t) {
            return function (v, opt) {
                const types = constants().messageTypes;
                if (v === undefined || (Array.isArray(v) && v.every((x) => types.indexOf(x) !== -1))) {
                    return true;
                }
                return opt ? t("errors.types") : false;
            };
        },
        /** Fills #pipes-types-list for the node's current selection. */
        prepare: function (t, selected) {
            const types = constants().messageTypes;
            const list = $("#pipes-types-list");
            types.forEach(function (type) {
                const row = $("<label/>", { style: "width: auto; display: block; margin: 2px 0;" }).appendTo(list);
                $("<input/>", { type: "checkbox", class: "pipes-type", value: type, style: BOX_STYLE })
                    .prop("checked", (selected || []).indexOf(type) !== -1)
                    .appendTo(row);
                $("<span/>")
                    .text(t("types." + type))
                    .appendTo(row);
            });
            const all = $("#pipes-types-all");
            const boxes = list.find("input.pipes-type");
            function syncAll() {
                const ticked = boxes.filter(":checked").length;
                all.prop("checked", ticked === 0 || ticked === types.length);
            }
            all.on("change", function () {
                if (all.prop("checked")) {
                    boxes.prop("checked", false);
                }
                syncAll();
            });
            boxes.on("change", syncAll);
            syncAll();
        },
        /** The ticked types for oneditsave: every type ticked is stored as "no filter". */
        read: function () {
            const ticked = $("#pipes-types-list input.pipes-type:checked")
                .map(function () {
                    return $(this).val();
                })
                .get();
            return ticked.length === constants().messageTypes.length ? [] : ticked;
        },
        /** "whatsapp in", "whatsapp in: media", "whatsapp in: text, image", "whatsapp in: text +3". */
        label: function (prefix, types) {
            const list = Array.isArray(types) ? types : [];
            if (list.length === 0 || list.length === constants().messageTypes.length) {
                return prefix;
            }
            const media = constants().mediaMessageTypes;
            if (list.length === media.length && media.every((m) => list.indexOf(m) !== -1)) {
                return prefix + ": media";
            }
            return prefix + ": " + (list.length <= 2 ? list.join(", ") : list[0] + " +" + (list.length - 1));
        },
    };

    editor.ready = true;
    // Node types whose script ran before this file (pipes-constants.js queued them): register them now.
    if (editor.constants) {
        editor.constantsLoaded();
    }
})();
